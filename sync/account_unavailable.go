package sync

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/bitbricks/bitbricks/config"
	"github.com/databricks/databricks-sdk-go"
	sdkconfig "github.com/databricks/databricks-sdk-go/config"
)

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
	if e.Cause.Profile != "" {
		return "the account API was not asked: " + e.Cause.Error()
	}
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

// profileProblem says why databricks.account_profile could not be
// resolved: the SDK's error without the config it appends.
func profileProblem(err error) string {
	msg, _, _ := strings.Cut(oneLine(err), ". Config:")
	msg = strings.TrimPrefix(msg, "resolve: ")
	if strings.Contains(msg, "profile configured") {
		return "is not a profile of the Databricks config file (" + msg + ")"
	}
	return "cannot be used (" + msg + ")"
}

// accountTokenRefused is err of the account API with the account's token
// endpoint refusing the OAuth client (a wrong or revoked secret) as an
// HTTP 401 naming setting, the credential to fix; other errors as they are.
// The SDK reports the refusal with no status, which read as no answer.
func accountTokenRefused(err error, setting string) error {
	if err == nil || !strings.Contains(err.Error(), "error getting token") {
		return err
	}
	why := "the account's OAuth token endpoint gave no token"
	status := 0
	if strings.Contains(err.Error(), "invalid_client") {
		why, status = "the account's token endpoint refused the OAuth client (invalid_client)", http.StatusUnauthorized
	}
	return &statusError{StatusCode: status, Body: why + ": check " + setting}
}

// accountSetting names the account credential of acfg for messages.
func accountSetting(acfg *databricks.Config, dc config.DatabricksConfig, opts DatabricksOptions) string {
	switch {
	case dc.AccountProfile != "" && acfg.Profile == dc.AccountProfile:
		return fmt.Sprintf("the client_id and client_secret of databricks.account_profile %q", dc.AccountProfile)
	case opts.Token != "":
		return "the account service principal's client id and secret given to bitbricks"
	case acfg.ClientID != "" && acfg.ClientID == opts.Env.get("DATABRICKS_CLIENT_ID"):
		return "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET"
	}
	return "the account credential (DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET, or databricks.account_profile)"
}

// NoCredentialError is a workspace of several that bitbricks has no
// credential for at all: a setting to fix (exit code 3).
type NoCredentialError struct {
	Workspace string
}

func (e *NoCredentialError) Error() string {
	return "workspace " + e.Workspace + " has no credential bitbricks can use"
}

// noCredential reports the SDK finding no credential to use at all (no
// token, profile or OAuth setting), as opposed to one that was refused.
func noCredential(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, sdkconfig.ErrCannotConfigureDefault) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "default auth: token is required") || strings.Contains(msg, "default auth: cannot configure default credentials")
}

// noCredentialCause is the SDK's finding of no credential, without its
// documentation link and config dump.
func noCredentialCause(err error) string {
	msg := oneLine(err)
	for _, cut := range []string{", please check", ". Config:"} {
		msg, _, _ = strings.Cut(msg, cut)
	}
	return strings.TrimPrefix(msg, "failed during request visitor: ")
}
