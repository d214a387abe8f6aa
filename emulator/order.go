package emulator

import "slices"

// idOrder caches the id order of the Databricks maps between requests, so a
// paged list of 10,000 users does not sort them all again for every page.
// It is checked, not trusted: the cached order is used only while it still
// names exactly the map's keys (same count, every id present), which costs a
// map lookup per id instead of a sort. Guarded by Org.Mu.
type idOrder map[string][]string

// sortedKeys returns the keys of m in id order; kind names the cache slot.
// The caller holds Org.Mu and must not change the returned slice.
func sortedKeys[V any](o *Org, kind string, m map[string]V) []string {
	if o.order == nil {
		o.order = idOrder{}
	}
	if ids, ok := o.order[kind]; ok && len(ids) == len(m) && allPresent(ids, m) {
		return ids
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, cmpID)
	o.order[kind] = ids
	return ids
}

func allPresent[V any](ids []string, m map[string]V) bool {
	for _, id := range ids {
		if _, ok := m[id]; !ok {
			return false
		}
	}
	return true
}
