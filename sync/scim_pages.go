package sync

import (
	"context"
	"fmt"
	"net/http"
	gosync "sync"

	"github.com/databricks/databricks-sdk-go/client"
)

// scimPageSize is what a SCIM list asks for; the service pages at most 100.
const scimPageSize = 100

// scimList is a SCIM ListResponse with its resources decoded as T.
type scimList[T any] struct {
	TotalResults int `json:"totalResults"`
	StartIndex   int `json:"startIndex"`
	Resources    []T `json:"Resources"`
}

// Lean SCIM resources: only the fields the snapshot keeps, decoded with the
// standard library (the SDK's generated types decode each item twice).
type (
	scimUser struct {
		ID          string `json:"id"`
		UserName    string `json:"userName"`
		DisplayName string `json:"displayName"`
		Active      bool   `json:"active"`
		ExternalID  string `json:"externalId"`
	}
	scimSP struct {
		ID            string `json:"id"`
		ApplicationID string `json:"applicationId"`
		DisplayName   string `json:"displayName"`
		Active        bool   `json:"active"`
	}
	scimValue struct {
		Value   string `json:"value"`
		Display string `json:"display"`
		Type    string `json:"type"`
		Ref     string `json:"$ref"`
	}
	scimGroup struct {
		ID           string      `json:"id"`
		DisplayName  string      `json:"displayName"`
		ExternalID   string      `json:"externalId"`
		Members      []scimValue `json:"members"`
		Entitlements []scimValue `json:"entitlements"`
		Meta         *struct {
			ResourceType string `json:"resourceType"`
		} `json:"meta"`
	}
)

func (u scimUser) key() string  { return u.ID }
func (s scimSP) key() string    { return s.ID }
func (g scimGroup) key() string { return g.ID }

// pageProgressKey carries a PageProgress through a context, so the sources
// can report pages without a progress argument on every method.
type pageProgressKey struct{}

// PageProgress hears that done of total pages of a listing have been read.
type PageProgress func(done, total int)

// WithPageProgress returns ctx carrying p.
func WithPageProgress(ctx context.Context, p PageProgress) context.Context {
	return context.WithValue(ctx, pageProgressKey{}, p)
}

func pageProgress(ctx context.Context) PageProgress {
	if p, ok := ctx.Value(pageProgressKey{}).(PageProgress); ok && p != nil {
		return p
	}
	return func(int, int) {}
}

// scimListAll reads every resource of a SCIM list. The first page tells the
// total; the other pages are then asked for at once, by startIndex (the SCIM
// gate keeps them to 4 in flight), instead of one after the other, so the
// read costs about total/100/4 round trips instead of total/100. The answer
// is checked: full pages, distinct ids, the total reached. If the list moved
// meanwhile, it is read again one page at a time until an empty page, as the
// SDK does.
func scimListAll[T interface{ key() string }](ctx context.Context, c *client.DatabricksClient, path string, query map[string]any) ([]T, error) {
	get := func(start int) (scimList[T], error) {
		q := map[string]any{"startIndex": start, "count": scimPageSize}
		for k, v := range query {
			q[k] = v
		}
		var page scimList[T]
		err := c.Do(ctx, http.MethodGet, path, map[string]string{"Accept": "application/json"}, q, nil, &page)
		return page, err
	}
	progress := pageProgress(ctx)
	first, err := get(1)
	if err != nil {
		return nil, err
	}
	size := len(first.Resources)
	if size == 0 {
		progress(1, 1)
		return nil, nil
	}
	pages := max(1, (first.TotalResults+size-1)/size)
	progress(1, pages)
	all := make([][]T, pages)
	all[0] = first.Resources
	var (
		mu       gosync.Mutex
		firstErr error
		done     = 1
	)
	g := newGroup(ctx, SCIMConcurrency)
	for i := 1; i < pages; i++ {
		g.Go(func(context.Context) error {
			page, err := get(1 + i*size)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return err
			}
			all[i] = page.Resources
			done++
			progress(done, pages)
			return nil
		})
	}
	if g.Wait(); firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]T, 0, first.TotalResults)
	seen := make(map[string]bool, first.TotalResults)
	consistent := true
	for i, p := range all {
		if i < pages-1 && len(p) != size {
			consistent = false
		}
		for _, r := range p {
			if k := r.key(); !seen[k] {
				seen[k] = true
				out = append(out, r)
			} else {
				consistent = false
			}
		}
	}
	if consistent && len(out) == first.TotalResults {
		return out, nil
	}
	// The list changed under the read (or the total was off): read it again
	// one page at a time until an empty page, as the SDK does.
	out, seen = out[:0], map[string]bool{}
	for start, n := 1, 0; ; n++ {
		if n > 100000 {
			return nil, fmt.Errorf("list %s: no empty page after %d pages", path, n)
		}
		page, err := get(start)
		if err != nil {
			return nil, err
		}
		if len(page.Resources) == 0 {
			return out, nil
		}
		for _, r := range page.Resources {
			if k := r.key(); !seen[k] {
				seen[k] = true
				out = append(out, r)
			}
		}
		start += len(page.Resources)
	}
}
