package sync

import "errors"

// With databricks.account_id set but no credential the account API takes
// (only a workspace's personal access token), the account's work is
// unavailable and the workspace's is not: revoking a token, the token
// inventory and unlock run, and say what they could not cover (the
// account's OAuth secrets, its users) and why; planning (account groups,
// workspace assignment), rotating an OAuth secret and federating refuse
// with the *AccountCredentialError (exit 3) before any request.

// AccountUnavailableError is the account API not asked, for the lack of a
// credential it takes: a part of a read or a lookup that was left out. It
// unwraps to the *AccountCredentialError, so work that needs the account
// and meets it ends with exit 3.
type AccountUnavailableError struct {
	Cause *AccountCredentialError
}

func (e *AccountUnavailableError) Error() string {
	return "the account API takes OAuth, not a personal access token: set DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (an account admin's OAuth secret) or databricks.account_profile"
}

func (e *AccountUnavailableError) Unwrap() error { return e.Cause }

// accountUnavailable is the *AccountCredentialError of src's Databricks
// source, or of any of its workspaces', or nil.
func accountUnavailable(src Sources) error {
	type unavailable interface{ AccountUnavailable() error }
	if d, ok := src.Databricks.(unavailable); ok {
		if err := d.AccountUnavailable(); err != nil {
			return err
		}
	}
	for _, w := range src.Workspaces {
		if d, ok := w.Sources.Databricks.(unavailable); ok {
			if err := d.AccountUnavailable(); err != nil {
				return err
			}
		}
	}
	return nil
}

// needAccount refuses work that needs the account API when no credential
// it takes is configured (databricks.account_id set): the
// *AccountCredentialError, before any request.
func (s *Service) needAccount() error {
	return accountUnavailable(s.src)
}

// isAccountUnavailable reports err as the account API not asked.
func isAccountUnavailable(err error) bool {
	var ue *AccountUnavailableError
	return errors.As(err, &ue)
}
