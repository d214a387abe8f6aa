package sync

// RevokeOwnerCommand is the command that revokes the rest of owner's
// credentials, for a note that leaves them to the operator: with
// workspace (one of several, where a leak was contained), only there, as
// `revoke --owner` without --workspace lists and revokes the owner's
// credentials in every workspace; force for a protected owner.
func RevokeOwnerCommand(owner, workspace string, force bool) string {
	cmd := "bitbricks revoke --owner " + owner
	if workspace != "" {
		cmd += " --workspace " + workspace
	}
	if force {
		cmd += " --force"
	}
	return cmd
}
