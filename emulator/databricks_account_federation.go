package emulator

import "net/http"

// Account-wide federation policies (/api/2.0/accounts/{account_id}/federationPolicies):
// they trust an issuer for the whole account rather than for one service
// principal, and need no subject. They are listed and kept so a tool can see
// a policy wider than one repository; the token exchange does not honour them
// (it needs a client_id and uses that service principal's policies).

func (s *Server) accountPolicyCreate(w http.ResponseWriter, r *http.Request, p principal) {
	o := s.Org
	var body policyBody
	if err := readJSON(r, &body); err != nil || body.OIDCPolicy == nil {
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "The policy needs an oidc_policy.")
		return
	}
	id := cmpOr(r.URL.Query().Get("policy_id"), o.newUUID())
	for _, fp := range o.policiesOf("") {
		if fp.ID == id {
			dbError(w, http.StatusConflict, "RESOURCE_ALREADY_EXISTS", "Federation policy %s already exists.", id)
			return
		}
	}
	now := o.Now()
	fp := &DBFederationPolicy{ID: id, Description: body.Description, Created: now, Updated: now}
	fp.setOIDC(body.OIDCPolicy)
	if fp.Issuer == "" {
		dbError(w, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "oidc_policy.issuer is required.")
		return
	}
	o.DB.FederationPolicies["/"+id] = fp
	writeJSON(w, http.StatusOK, s.accountPolicyJSON(fp))
}

func (s *Server) accountPolicyJSON(fp *DBFederationPolicy) any {
	m := s.policyJSON(fp)
	delete(m, "service_principal_id")
	m["name"] = "accounts/" + s.Org.DB.AccountID + "/federationPolicies/" + fp.ID
	return m
}

func (s *Server) accountPolicyList(w http.ResponseWriter, r *http.Request, p principal) {
	writePage(w, r, "policies", s.Org.policiesOf(""), s.accountPolicyJSON)
}

func (s *Server) accountPolicy(w http.ResponseWriter, r *http.Request) *DBFederationPolicy {
	id := r.PathValue("policy_id")
	for _, fp := range s.Org.policiesOf("") {
		if fp.ID == id {
			return fp
		}
	}
	dbError(w, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Federation policy %s does not exist.", id)
	return nil
}

func (s *Server) accountPolicyGet(w http.ResponseWriter, r *http.Request, p principal) {
	if fp := s.accountPolicy(w, r); fp != nil {
		writeJSON(w, http.StatusOK, s.accountPolicyJSON(fp))
	}
}

func (s *Server) accountPolicyDelete(w http.ResponseWriter, r *http.Request, p principal) {
	if fp := s.accountPolicy(w, r); fp != nil {
		delete(s.Org.DB.FederationPolicies, "/"+fp.ID)
		writeJSON(w, http.StatusOK, map[string]any{})
	}
}
