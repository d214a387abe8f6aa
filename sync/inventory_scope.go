package sync

// OverAgeCounts counts the credentials of inv over policy.token_max_age:
// own are a workspace's (its tokens, and the OAuth secrets that work there),
// atlassian the Atlassian API tokens, which are the organisation's and no
// workspace's. A scope of one workspace of several counts own as its
// figure and says the others apart; with one workspace, or all, the figure
// is both.
func OverAgeCounts(inv []CredentialStatus) (own, atlassian int) {
	for _, c := range inv {
		if !c.Has(FlagOverAge) {
			continue
		}
		if c.Kind == CredentialAtlassianToken {
			atlassian++
		} else {
			own++
		}
	}
	return own, atlassian
}
