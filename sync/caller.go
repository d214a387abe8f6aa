package sync

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	gosync "sync"
)

// Caller is who the Databricks credentials in use act as, as SCIM Me
// answered: the identity a list that cannot lack it is checked against.
type Caller struct {
	ID       string // SCIM id
	UserName string // userName, or a service principal's application id
	// PAT is true when the credentials are a personal access token: the
	// workspace's token list must then hold at least one token of the caller.
	PAT bool
}

// ServicePrincipal reports a caller that is a service principal: SCIM Me
// answers a service principal with its application id as userName.
func (c Caller) ServicePrincipal() bool { return bareUUID.MatchString(c.UserName) }

var bareUUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// callerSource is a DatabricksSource that remembers who Me answered.
type callerSource interface {
	Caller() Caller
}

// callerCache holds the caller Me answered, for the reads after it.
type callerCache struct {
	mu gosync.Mutex
	c  Caller
}

func (cc *callerCache) set(c Caller) {
	cc.mu.Lock()
	cc.c = c
	cc.mu.Unlock()
}

func (cc *callerCache) get() Caller {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.c
}

// Caller is who the last successful Me answered (zero before one).
func (d *Databricks) Caller() Caller { return d.caller.get() }

// bitbucketCaller is a BitbucketSource that can say which account its
// credentials belong to.
type bitbucketCaller interface {
	// Caller is the account the credentials belong to; ok is false when they
	// are not a person's (an access token acts as no workspace member).
	Caller(ctx context.Context) (a Account, ok bool, err error)
}

// Caller reads GET /2.0/user when the credentials are an Atlassian account's
// (an email and API token): that account is a member of the workspace it
// administers. A Bearer token may be a repository, project or workspace
// access token, which is no member, so it is not checked.
func (b *Bitbucket) Caller(ctx context.Context) (Account, bool, error) {
	if !b.person {
		return Account{}, false, nil
	}
	var u struct {
		AccountID   string `json:"account_id"`
		UUID        string `json:"uuid"`
		Nickname    string `json:"nickname"`
		DisplayName string `json:"display_name"`
	}
	if err := getJSON(ctx, b.http, b.auth, b.v2+"/user", &u); err != nil {
		return Account{}, false, b.wrap("read the Bitbucket caller", err)
	}
	if u.AccountID == "" && u.UUID == "" {
		return Account{}, false, fmt.Errorf("read the Bitbucket caller: %s/user answered no account", b.v2)
	}
	return Account{AccountID: u.AccountID, UUID: u.UUID, Nickname: u.Nickname, DisplayName: u.DisplayName}, true, nil
}

// ImplausibleError is a list that came back in a shape it cannot truly have
// (empty, or without the caller). The list counts as not read.
type ImplausibleError struct {
	List string // "workspace members", ...
	Why  string
}

func (e *ImplausibleError) Error() string {
	return fmt.Sprintf("implausible answer: %s; treated as not read", e.Why)
}

// sameAccount reports whether a and b are one Atlassian account.
func sameAccount(a, b Account) bool {
	return (a.AccountID != "" && a.AccountID == b.AccountID) || (a.UUID != "" && strings.EqualFold(a.UUID, b.UUID))
}

// checkMembers is the implausibility rule for the workspace member list:
// never empty (a workspace has an owner), and holding the caller when the
// credentials are a person's.
func checkMembers(ms []Account, caller Account, person bool) error {
	if len(ms) == 0 {
		return &ImplausibleError{List: "workspace members", Why: "the list is empty, yet a workspace always has members"}
	}
	if person {
		for _, m := range ms {
			if sameAccount(m, caller) {
				return nil
			}
		}
		return &ImplausibleError{List: "workspace members", Why: fmt.Sprintf("the list lacks the calling account %s, who administers the workspace", accountLabel(caller))}
	}
	return nil
}

// checkGroups is the rule for the Bitbucket group list: groups that exist
// but all come back without a single member are a bad read (the /1.0 list
// embeds members), not a workspace where every group emptied at once.
func checkGroups(gs []*BitbucketGroup) error {
	if len(gs) == 0 {
		return nil
	}
	for _, g := range gs {
		if len(g.Members) > 0 {
			return nil
		}
	}
	return &ImplausibleError{List: "groups", Why: fmt.Sprintf("all %d groups came back without members", len(gs))}
}

func accountLabel(a Account) string {
	name := a.DisplayName
	if name == "" {
		name = a.Nickname
	}
	id := a.AccountID
	if id == "" {
		id = a.UUID
	}
	if name == "" {
		return id
	}
	return name + " (" + id + ")"
}

// identityMapLine is the line of identity.map_file that resolves account a:
// its account_id (or {uuid}) as key, the Databricks userName to fill in.
func identityMapLine(a Account) string {
	key := a.AccountID
	if key == "" {
		key = a.UUID
	}
	return fmt.Sprintf("%q: <Databricks userName>", key)
}
