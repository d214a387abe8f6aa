package emulator

import (
	"net/http"
	"strings"
)

// The account API (/api/2.0/accounts/{account_id}/...) takes account-level
// OAuth only: an access token minted at the account's token endpoint
// (/oidc/accounts/{account_id}/v1/token), from a service principal's OAuth
// secret or by token exchange. A workspace personal access token, or an
// OAuth token minted at a workspace's /oidc/v1/token, is answered as the
// service answers a credential of the wrong type: 401, with the numeric
// error_code, the message in X-Databricks-Reason-Phrase and a Bearer
// challenge (databricks/databricks-sdk-go#1158).

// unsupportedCredential is the service's message for a credential that is
// missing or of a type the API does not take.
const unsupportedCredential = "Credential was not sent or was of an unsupported type for this API."

// accountBearer reports whether r carries an OAuth access token minted at
// an account's token endpoint (expired ones included: those fail later, as
// every expired token does, with 403; one of another account than the
// path's is refused by the access check). Callers hold o.Mu.
func (o *Org) accountBearer(r *http.Request) bool {
	value, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	t := o.DB.OAuthTokens[value]
	return value != "" && t != nil && t.Account != ""
}

// refuseAccountCredential writes the account API's answer to a credential
// it does not take.
func refuseAccountCredential(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="DatabricksRealm"`)
	dbAuthError(w, http.StatusUnauthorized, unsupportedCredential)
}
