package emulator

import "time"

// The account API takes account-level OAuth only, never a workspace's
// personal access token: each seed has a service principal that is an
// account admin, assigned to no workspace, with one OAuth secret
// (Credentials.AccountClientID and AccountClientSecret), as an account
// console admin would set one up for bitbricks.

// accountAdminName is the seeds' account admin service principal.
const (
	accountAdminName     = "bitbricks-account"
	accountAdminID       = "990000001"
	accountAdminSecretID = "990000002"
)

// seedAccountAdmin adds the account admin service principal and its secret,
// created a few days before now, to o (in its first workspace, so that every
// workspace of the account shares it).
func seedAccountAdmin(o *Org, seed string, now time.Time) {
	add := func() {
		// Ids of their own, far above the seed's counter, so that adding
		// them moves no id the seed or a test creates.
		sp := o.AddServicePrincipal(DBServicePrincipal{ID: accountAdminID, ApplicationID: uuidFrom(seed + "/sp/" + accountAdminName),
			DisplayName: accountAdminName, Active: true, AccountAdmin: true})
		sec := o.AddSecret(DBSecret{ID: accountAdminSecretID, SPID: sp.ID, Created: now.Add(-7 * seedDay)})
		o.Creds.AccountClientID, o.Creds.AccountClientSecret = sp.ApplicationID, sec.Secret
	}
	o.Mu.Lock()
	first := ""
	if len(o.Workspaces) > 0 {
		first = o.Workspaces[0].Name
	}
	o.Mu.Unlock()
	if first == "" {
		add()
		return
	}
	o.InWorkspace(first, func(*DatabricksState) { add() })
}
