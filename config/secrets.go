package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Keys that would hold a secret. Secrets come from the environment or the Databricks
// profile only, so these keys are refused wherever they appear.
var secretKeys = map[string]bool{
	"token":        true,
	"password":     true,
	"secret":       true,
	"apikey":       true,
	"apitoken":     true,
	"clientsecret": true,
	"accesstoken":  true,
}

// credentialPatterns recognise credential values by shape. Each match is preceded by the
// start of the value or a character that cannot be part of the credential.
var credentialPatterns = []struct {
	what string
	re   *regexp.Regexp
}{
	{"a Databricks personal access token", regexp.MustCompile(`(^|[^A-Za-z0-9])dapi[0-9a-f]{16,}`)},
	{"a Databricks OAuth secret", regexp.MustCompile(`(^|[^A-Za-z0-9])dose[0-9a-f]{16,}`)},
	{"an Atlassian API token", regexp.MustCompile(`(^|[^A-Za-z0-9])ATATT[A-Za-z0-9_\-=]{10,}`)},
	{"an Atlassian access token", regexp.MustCompile(`(^|[^A-Za-z0-9])ATCTT[A-Za-z0-9_\-=]{10,}`)},
	{"a JWT access token", regexp.MustCompile(`(^|[^A-Za-z0-9])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)},
}

// LooksLikeCredential reports whether s holds a value shaped like a
// credential (dapi…, dose…, ATATT…, ATCTT…, a JWT), and which kind.
func LooksLikeCredential(s string) (what string, ok bool) { return looksLikeCredential(s) }

// RedactCredentials hides every credential-shaped value in s, keeping its
// first and last four characters ("dapi…1a2b") so a person can still tell
// which one it was.
func RedactCredentials(s string) string { return redactSecrets(s) }

func looksLikeCredential(s string) (what string, ok bool) {
	for _, p := range credentialPatterns {
		if p.re.MatchString(s) {
			return p.what, true
		}
	}
	return "", false
}

// redactSecrets hides anything credential-shaped, for text we do not control.
func redactSecrets(s string) string {
	for _, p := range credentialPatterns {
		s = p.re.ReplaceAllStringFunc(s, func(m string) string {
			lead := ""
			if len(m) > 0 && !startsCredential(m) {
				lead, m = m[:1], m[1:]
			}
			if len(m) < 12 {
				return lead + "…"
			}
			return lead + m[:4] + "…" + m[len(m)-4:]
		})
	}
	return s
}

// startsCredential reports whether a pattern match starts with the
// credential itself rather than the character before it.
func startsCredential(m string) bool {
	c := m[0]
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// envFor names the environment variable that should hold a secret found at path.
func envFor(path, key, what string) string {
	section, _, _ := strings.Cut(path, ".")
	section, _, _ = strings.Cut(section, "[")
	key = normalizeKey(key)
	switch section {
	case "bitbucket":
		if key == "accesstoken" || what == "a JWT access token" {
			return "BITBUCKET_ACCESS_TOKEN"
		}
		return "BITBUCKET_API_TOKEN (with BITBUCKET_USERNAME)"
	case "atlassian_admin":
		return "ATLASSIAN_ADMIN_API_KEY"
	case "databricks":
		switch {
		case key == "clientsecret" || key == "secret" || what == "a Databricks OAuth secret":
			return "DATABRICKS_CLIENT_SECRET"
		case key == "password":
			return "DATABRICKS_PASSWORD"
		}
		return "DATABRICKS_TOKEN"
	}
	switch what {
	case "a Databricks personal access token":
		return "DATABRICKS_TOKEN"
	case "a Databricks OAuth secret":
		return "DATABRICKS_CLIENT_SECRET"
	case "an Atlassian API token":
		return "BITBUCKET_API_TOKEN or ATLASSIAN_ADMIN_API_KEY"
	case "a JWT access token":
		return "BITBUCKET_ACCESS_TOKEN"
	}
	return "BITBUCKET_API_TOKEN, ATLASSIAN_ADMIN_API_KEY or DATABRICKS_TOKEN"
}

func normalizeKey(k string) string {
	return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(k))
}

// checkSecrets refuses secret-named keys and credential-shaped values anywhere under n.
// Messages name the place and the environment variable to use, never the value.
func checkSecrets(file, path string, n ast.Node) error {
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, e := range n.Values {
			if err := checkSecrets(file, path, e); err != nil {
				return err
			}
		}
	case *ast.MappingValueNode:
		key, _ := scalarText(n.Key)
		kpath := joinPath(path, key)
		if what, ok := looksLikeCredential(key); ok {
			return errAt(file, nodePos(n.Key), "a key in %s looks like %s; never write secrets in the config: remove it and set %s in the environment instead",
				displayPath(path), what, envFor(path, "", what))
		}
		if secretKeys[normalizeKey(key)] {
			return errAt(file, nodePos(n.Key), "%s: secrets must not be written in the config: remove this key and set %s in the environment instead",
				kpath, envFor(kpath, key, ""))
		}
		return checkSecrets(file, kpath, n.Value)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			if err := checkSecrets(file, fmt.Sprintf("%s[%d]", path, i), v); err != nil {
				return err
			}
		}
	case *ast.AnchorNode:
		return checkSecrets(file, path, n.Value)
	case *ast.TagNode:
		return checkSecrets(file, path, n.Value)
	case *ast.StringNode, *ast.LiteralNode:
		s, _ := scalarText(n)
		if what, ok := looksLikeCredential(s); ok {
			return errAt(file, nodePos(n), "%s looks like %s; never write secrets in the config: remove it and set %s in the environment instead",
				displayPath(path), what, envFor(path, "", what))
		}
	}
	return nil
}
