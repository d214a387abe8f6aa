package emulator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// LargeParams size the large seed.
type LargeParams struct {
	Users    int // Atlassian accounts; most are Databricks users too
	BBGroups int // /1.0 groups, mirrored as Admin directory groups
	DBGroups int // Databricks groups; the first BBGroups of them mirror the Bitbucket groups, with drift
	SPs      int // service principals
	Tokens   int // PATs and on-behalf-of tokens
	// GroupSize is the mean number of members of a group.
	GroupSize int
	// Seed seeds the generator; the same parameters give the same organisation.
	Seed uint64
}

// DefaultLarge is the size of the `large` seed.
func DefaultLarge() LargeParams {
	return LargeParams{Users: 10_000, BBGroups: 1_000, DBGroups: 2_000, SPs: 500, Tokens: 30_000, GroupSize: 25, Seed: 1}
}

// Large builds a parametric organisation for load and scale tests. Users
// are user00000@acme.com onwards (user00000 is admin@acme.com, the owner
// and admin the credentials belong to); about 1% are guests without an
// email, 2% have left the workspace and 2% have no Databricks user.
// Bitbucket group team-NNNN matches Databricks group team-NNNN, whose
// members differ by about 10% (plus extras, service principals and nested
// groups); 30% of Databricks groups are account groups and 5% IdP-managed.
// Token ages spread over 200 days, 15% without expiry; each service
// principal holds 0 to 5 OAuth secrets.
func Large(p LargeParams, now time.Time) *Org {
	p.Users = max(p.Users, 1) // user00000 holds the credentials
	r := rand.New(rand.NewPCG(p.Seed, p.Seed^0x6c61726765))
	gen := &largeGen{r: r, seen: make([]int, p.Users)}
	o := NewOrg(seedClock(now))
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	o.BB.Workspace = BBWorkspace{UUID: "{" + uuidFrom("large/workspace") + "}", Slug: "acme", Name: "Acme", CreatedOn: ago(5 * 365 * seedDay)}
	o.Admin.OrgID = uuidFrom("large/atlassian-org")
	o.DB.AccountID = uuidFrom("large/databricks-account")
	o.DB.WorkspaceID = 1234567890123456
	o.DB.Conf["maxTokenLifetimeDays"] = "90"
	o.DB.Users = make(map[string]*DBUser, p.Users)
	o.DB.Groups = make(map[string]*DBGroup, p.DBGroups+1)
	o.DB.Tokens = make(map[string]*DBToken, p.Tokens+1)
	o.DB.TokensByValue = make(map[string]*DBToken, p.Tokens+1)
	groupSize := func() int { return 1 + r.IntN(2*max(p.GroupSize, 1)) }

	// People: a Bitbucket account each, a Databricks user for most.
	o.BB.Users = make([]*BBUser, 0, p.Users)
	members := make([]int, 0, p.Users) // indices of workspace members
	dbUser := make([]string, p.Users)  // SCIM id per person, "" for none
	var userIDs []string
	for i := range p.Users {
		nick := fmt.Sprintf("user%05d", i)
		email, perm := nick+"@acme.com", ""
		roll := r.IntN(100) // 0: a guest unknown to the org; 1-2: departed; 3-4: no Databricks user
		switch {
		case i == 0:
			email, perm, roll = "admin@acme.com", "owner", 99
		case roll < 1:
			email = ""
		}
		u := o.AddBBUser(BBUser{UUID: "{" + uuidFrom("large/bb-user/"+nick) + "}", AccountID: "557058:" + uuidFrom("large/account/"+nick),
			Nickname: nick, DisplayName: fmt.Sprintf("User %05d", i), Email: email, Permission: perm,
			CreatedOn: ago(time.Duration(30+r.IntN(1500)) * seedDay), InWorkspace: roll < 1 || roll >= 3})
		if u.InWorkspace {
			members = append(members, i)
		}
		if email != "" && (roll < 3 || roll >= 5) {
			dbUser[i] = o.AddDBUser(DBUser{UserName: email, DisplayName: u.DisplayName, Active: true,
				Assigned: true, Admin: i == 0, AccountAdmin: i == 0}).ID
			userIDs = append(userIDs, dbUser[i])
		}
	}
	spIDs := make([]string, p.SPs)
	for i := range p.SPs {
		name := fmt.Sprintf("sp-%04d", i)
		spIDs[i] = o.AddServicePrincipal(DBServicePrincipal{ApplicationID: uuidFrom("large/sp/" + name),
			DisplayName: name, Active: true, Entitlements: []string{"workspace-access"}, Assigned: true}).ID
	}

	// Bitbucket groups, and the Databricks groups mirroring them.
	for g := range p.BBGroups {
		slug := fmt.Sprintf("team-%04d", g)
		var accounts []string
		var dbMembers []DBMember
		for _, m := range gen.pick(len(members), groupSize()) {
			i := members[m]
			accounts = append(accounts, o.BB.Users[i].AccountID)
			if dbUser[i] != "" && r.IntN(10) > 0 { // 10% missing in Databricks: drift
				dbMembers = append(dbMembers, DBMember{Value: dbUser[i], Type: "User"})
			}
		}
		o.AddBBGroup(BBGroup{Slug: slug, Name: fmt.Sprintf("Team %04d", g), Permission: "read", Members: accounts})
		o.AddAdminGroup(AdminGroup{ID: uuidFrom("large/admin-group/" + slug), Name: slug, Members: slices.Clone(accounts)})
		if g < p.DBGroups {
			gen.dbGroup(o, slug, dbMembers, userIDs, spIDs)
		}
	}
	for g := min(p.BBGroups, p.DBGroups); g < p.DBGroups; g++ {
		gen.dbGroup(o, fmt.Sprintf("db-group-%04d", g), nil, userIDs, spIDs)
	}
	admin := dbUser[0]
	o.AddDBGroup(DBGroup{DisplayName: "admins", Kind: WorkspaceGroup, Assigned: true,
		Entitlements: []string{"workspace-access", "databricks-sql-access", "allow-cluster-create"},
		Members:      []DBMember{{Value: admin, Type: "User"}}})

	// Tokens and secrets.
	for range p.Tokens {
		t := DBToken{Comment: "token", Created: ago(time.Duration(r.Int64N(int64(200 * seedDay))))}
		if len(spIDs) > 0 && r.IntN(100) < 15 {
			t.OwnerID, t.CreatedByID, t.Comment = spIDs[r.IntN(len(spIDs))], admin, "obo"
		} else {
			t.OwnerID = userIDs[r.IntN(len(userIDs))]
		}
		if life := []int{0, 30, 90, 90, 180, 365, 30}[r.IntN(7)]; life > 0 {
			t.Expiry = t.Created.Add(time.Duration(life) * seedDay)
		}
		// 10% of the young ones never used; the service revokes any unused for 90 days
		if age := now.Sub(t.Created); r.IntN(10) > 0 || age >= 89*seedDay {
			t.LastUsed = ago(time.Duration(r.Int64N(int64(min(age, 89*seedDay)) + 1))).Truncate(seedDay)
		}
		o.AddToken(t)
	}
	for _, sp := range spIDs {
		for range r.IntN(6) {
			o.AddSecret(DBSecret{SPID: sp, Created: ago(time.Duration(r.IntN(700)) * seedDay)})
		}
	}

	o.Creds = Credentials{
		BitbucketUsername: "admin@acme.com",
		BitbucketAPIToken: "ATATT3x" + secretFrom("large/bitbucket-api-token", 56),
		BitbucketBearer:   "ATCTT3x" + secretFrom("large/bitbucket-access-token", 56),
		AtlassianAdminKey: "ATCTT3x" + secretFrom("large/atlassian-admin-key", 56),
	}
	o.Creds.DatabricksToken = o.AddToken(DBToken{OwnerID: admin, Comment: "bitbricks admin", Created: ago(seedDay),
		Expiry: ago(-89 * seedDay), LastUsed: now.Truncate(seedDay)}).Value
	o.BB.Users[0].APIToken = o.Creds.BitbucketAPIToken
	o.BB.AccessTokens[o.Creds.BitbucketBearer] = o.BB.Users[0].AccountID
	o.Admin.APIKeys = []string{o.Creds.AtlassianAdminKey}
	seedAccountAdmin(o, "large", now)
	return o
}

// largeGen holds the large seed's generator state.
type largeGen struct {
	r         *rand.Rand
	seen      []int // stamps for pick
	stamp     int
	lastGroup string // id of the group added last, to nest in the next
}

// pick returns k distinct indices below n (n <= len(seen)) without
// allocating a set per call.
func (g *largeGen) pick(n, k int) []int {
	g.stamp++
	k = min(k, n)
	out := make([]int, 0, k)
	for len(out) < k {
		if i := g.r.IntN(n); g.seen[i] != g.stamp {
			g.seen[i] = g.stamp
			out = append(out, i)
		}
	}
	return out
}

// dbGroup adds one Databricks group: the given members plus a few random
// extra users (20 for a Databricks-only group), sometimes a service
// principal or the previous group nested.
func (g *largeGen) dbGroup(o *Org, name string, members []DBMember, userIDs, spIDs []string) {
	r := g.r
	extra := r.IntN(3)
	if members == nil {
		extra = 1 + r.IntN(20)
	}
	for _, i := range g.pick(len(userIDs), extra) {
		if !slices.ContainsFunc(members, func(m DBMember) bool { return m.Value == userIDs[i] }) {
			members = append(members, DBMember{Value: userIDs[i], Type: "User"})
		}
	}
	if len(spIDs) > 0 && r.IntN(10) == 0 {
		members = append(members, DBMember{Value: spIDs[r.IntN(len(spIDs))], Type: "ServicePrincipal"})
	}
	if g.lastGroup != "" && r.IntN(20) == 0 {
		members = append(members, DBMember{Value: g.lastGroup, Type: "Group"})
	}
	grp := DBGroup{DisplayName: name, Kind: WorkspaceGroup, Members: members, Assigned: true,
		Entitlements: []string{"workspace-access"}}
	if r.IntN(10) < 3 {
		grp.Kind = AccountGroup
	}
	if r.IntN(20) == 0 {
		grp.ExternalID = uuidFrom("large/idp/" + name)
	}
	g.lastGroup = o.AddDBGroup(grp).ID
}
