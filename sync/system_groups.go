package sync

// systemGroups are the groups Databricks itself keeps in every workspace, with
// what mapping a Bitbucket group onto one would mean.
var systemGroups = map[string]string{
	"admins":        "every member of admins is a workspace admin: mapping a Bitbucket group onto it hands out admin rights",
	"users":         "Databricks puts every workspace user in users and manages it itself: bitbricks would fight it, and with prune remove people from the workspace's default access",
	"account users": "Databricks puts every account user in account users and manages it itself",
}

// SystemGroup says why a Databricks group is one Databricks keeps itself
// (admins, users); ok is false for any other group. Front ends never offer a
// system group as a mapping target without this warning.
func SystemGroup(name string) (why string, ok bool) {
	why, ok = systemGroups[name]
	return why, ok
}
