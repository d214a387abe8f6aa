package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// NewOrg returns an empty organisation with every map initialised. now is
// the clock; nil means time.Now.
func NewOrg(now func() time.Time) *Org {
	if now == nil {
		now = time.Now
	}
	return &Org{
		Now: now,
		BB:  &BitbucketState{AccessTokens: map[string]string{}},
		Admin: &AdminState{
			DirectoryID: "-",
		},
		DB: &DatabricksState{
			Conf:               map[string]string{"maxTokenLifetimeDays": "0", "enableTokensConfig": "true"},
			Users:              map[string]*DBUser{},
			Groups:             map[string]*DBGroup{},
			ServicePrincipals:  map[string]*DBServicePrincipal{},
			Tokens:             map[string]*DBToken{},
			TokensByValue:      map[string]*DBToken{},
			Secrets:            map[string]*DBSecret{},
			FederationPolicies: map[string]*DBFederationPolicy{},
			NextID:             1000,
		},
	}
}

// nextID hands out the next numeric id. Callers hold o.Mu.
func (o *Org) nextID() string {
	o.DB.NextID++
	return strconv.FormatInt(o.DB.NextID, 10)
}

// newUUID derives a deterministic, well-formed UUID (without braces) from a
// counter, so seeds and created objects are stable across runs. Callers hold o.Mu.
func (o *Org) newUUID() string {
	o.DB.NextID++
	return uuidFrom(fmt.Sprintf("uuid-%d", o.DB.NextID))
}

// uuidFrom hashes a name into a version-4-shaped UUID.
func uuidFrom(name string) string {
	h := sha256.Sum256([]byte(name))
	h[6] = (h[6] & 0x0f) | 0x40
	h[8] = (h[8] & 0x3f) | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// secretFrom derives a deterministic secret of n hex digits from a name. Seeds
// use it so no credential value is ever written in source.
func secretFrom(name string, n int) string {
	var out []byte
	for i := 0; len(out) < n; i++ {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", name, i)))
		out = append(out, hex.EncodeToString(h[:])...)
	}
	return string(out[:n])
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readJSON decodes the request body into v.
func readJSON(r *http.Request, v any) error {
	defer r.Body.Close()
	return json.NewDecoder(r.Body).Decode(v)
}

// baseURL is the scheme and host the client used, for absolute links such as
// Bitbucket's `next`.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
