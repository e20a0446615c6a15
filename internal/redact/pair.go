package redact

import "strings"

// credentialWords end the names of pairs whose value is a credential.
// Only the end of a name is compared, so x-auth-token, client_secret,
// db_password and Proxy-Authorization are all found. keyQualifiers are the
// words that make "...key" a credential (api_key, X-Api-Key, secretKey):
// "key" alone is too often an ordinary word ("idempotency key: 42").
var (
	credentialWords = []string{
		"authorization", "auth", "cookie", "token", "secret", "password", "passwd", "pwd",
		"signature", "sig", "credential", "credentials", "sessionid", "session-id", "session_id", "sessid",
	}
	keyQualifiers = []string{"api", "access", "secret", "private", "signing", "client", "app"}
)

// pairs replaces the value of each "name: value" or "name=value" pair whose
// name ends in a credential word. Around the separator it accepts white
// space and a quote, escaped or not, so JSON ("token": "x") and JSON quoted
// again in an error text (\"token\":\"x\") are covered. A value runs to
// white space, a quote, a backslash or one of ,;&)]}<>; a value that starts
// with an auth scheme ("Bearer x") is redacted with its credential.
func pairs(s string) string {
	out := splicer{s: s}
	for i := 0; i < len(s); i++ {
		if s[i] != ':' && s[i] != '=' {
			continue
		}
		if !credentialName(nameBefore(s, i)) {
			continue
		}
		start := valueStart(s, i+1)
		end := valueEnd(s, start)
		if end == start {
			continue
		}
		out.replace(start, end, Marker)
		i = end - 1
	}
	return out.String()
}

// nameBefore returns s up to the end of the name before the separator at
// i: white space, a quote and the backslash escaping it are skipped.
func nameBefore(s string, i int) string {
	for i > 0 && isSpace(s[i-1]) {
		i--
	}
	if i > 0 && s[i-1] == '"' {
		i--
		if i > 0 && s[i-1] == '\\' {
			i--
		}
	}
	return s[:i]
}

// credentialName reports whether the text before a separator ends in a
// credential word.
func credentialName(s string) bool {
	for _, w := range credentialWords {
		if hasSuffixFold(s, w) {
			return true
		}
	}
	if hasSuffixFold(s, "key") {
		s = s[:len(s)-3]
		if n := len(s); n > 0 && (s[n-1] == '-' || s[n-1] == '_') {
			s = s[:n-1]
		}
		for _, q := range keyQualifiers {
			if hasSuffixFold(s, q) {
				return true
			}
		}
	}
	return false
}

// valueStart returns where the value after the separator at i-1 begins:
// past white space and an opening quote, escaped or not.
func valueStart(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	switch {
	case strings.HasPrefix(s[i:], `\"`):
		i += 2
	case strings.HasPrefix(s[i:], `"`):
		i++
	}
	return i
}

// valueEnd returns where the value starting at i ends: after an earlier
// Marker (so that Text is idempotent), after "Scheme credential", or at
// the first character that ends a value.
func valueEnd(s string, i int) int {
	if strings.HasPrefix(s[i:], Marker) {
		return i + len(Marker)
	}
	if n := schemeAt(s[i:]); n > 0 {
		j := i + n
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		if j > i+n {
			if strings.HasPrefix(s[j:], Marker) {
				return j + len(Marker)
			}
			if k := plainValueEnd(s, j); k > j {
				return k
			}
		}
	}
	return plainValueEnd(s, i)
}

func plainValueEnd(s string, i int) int {
	for i < len(s) && !isSpace(s[i]) && strings.IndexByte(`"'\,;&)]}<>`, s[i]) < 0 {
		i++
	}
	return i
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
