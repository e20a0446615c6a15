package redact

import (
	"regexp"
	"strings"
	"unicode"
)

// Marker replaces every redacted value.
const Marker = "[redacted]"

var (
	// cookiePattern finds Cookie and Set-Cookie headers, whose value is a
	// list of credentials: every "name=value" of it and the attributes
	// that follow ("; Path=/; HttpOnly") go.
	cookiePattern = regexp.MustCompile(`(?i)\b((?:set-)?cookie)(\s*:\s*)[^\s;"\\=]+=[^\s;"\\]*(?:;\s*[^\s;"\\]+)*`)
	// jwtPattern finds JSON Web Tokens (a base64url JSON header, "eyJ").
	jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
	// keyPattern finds API keys by the prefixes their issuers give them:
	// Stripe (sk_live_...), GitHub (ghp_..., github_pat_...), Slack
	// (xoxb-...), AWS access key ids (AKIA...), Google API keys (AIza...).
	keyPattern = regexp.MustCompile(`\b(?:(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,})`)
)

// Literals the patterns need: a pattern runs only when one is present.
// Go's regular expressions cost tens of nanoseconds a byte, and most error
// texts hold no credential at all.
var (
	keyPrefixes = []string{"_live_", "_test_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "AKIA", "ASIA", "AIza"}
	schemeWords = []string{"bearer", "basic", "digest"}
)

// Text returns s with credentials replaced by [Marker]:
//
//   - URLs are reduced by [URL]: user info, query, fragment and long
//     opaque path segments (webhook secrets live in paths) go; scheme,
//     host and short or word-like path segments stay;
//   - the cookies of a Cookie or Set-Cookie header;
//   - the value of a "name: value" or "name=value" pair whose name ends in
//     a credential word (Authorization, token, secret, password, api_key,
//     client_secret, signature, ...), in headers, forms, JSON and quoted
//     JSON, including "Authorization: Bearer x";
//   - a bearer, basic or digest credential on its own (when it looks
//     machine-made: "basic validation failed" stays);
//   - JSON Web Tokens, and API keys recognisable by their issuer's prefix.
//
// Control characters become spaces and invalid UTF-8 becomes U+FFFD, so the
// result is one line of valid text. Everything else, the partner's words in
// a response-body snippet included, is kept. Text does not bound the
// length; callers cut the result (package internal/text). Text is
// idempotent: Text(Text(s)) == Text(s).
func Text(s string) string {
	// Clean first, so that a control character that becomes a space cannot
	// join a name to its value after redaction ("Cookie\x7f=x"), and last,
	// because a URL's host is percent-decoded.
	s = clean(s)
	if strings.Contains(s, "://") {
		s = urls(s)
	}
	if strings.ContainsAny(s, ":=") {
		if containsFold(s, "cookie") {
			s = cookiePattern.ReplaceAllString(s, "${1}${2}"+Marker)
		}
		s = pairs(s)
	}
	for _, w := range schemeWords {
		if containsFold(s, w) {
			s = schemes(s)
			break
		}
	}
	if strings.Contains(s, "eyJ") {
		s = jwtPattern.ReplaceAllString(s, Marker)
	}
	for _, p := range keyPrefixes {
		if strings.Contains(s, p) {
			s = keyPattern.ReplaceAllString(s, Marker)
			break
		}
	}
	return clean(s)
}

// schemes redacts the credential after "Bearer", "Basic" or "Digest" when
// it is at least 8 characters of a token alphabet and looks machine-made.
func schemes(s string) string {
	out := splicer{s: s}
	for i := 0; i < len(s); i++ {
		if i > 0 && isWord(s[i-1]) {
			continue
		}
		n := schemeAt(s[i:])
		if n == 0 {
			continue
		}
		j := i + n
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		if j == i+n {
			continue
		}
		k := j
		for k < len(s) && isTokenChar(s[k]) {
			k++
		}
		if k-j < 8 || !opaque(s[j:k]) {
			i = j - 1
			continue
		}
		out.replace(j, k, Marker)
		i = k - 1
	}
	return out.String()
}

// splicer builds a copy of s with spans of it replaced, left to right.
// Until the first replacement it writes nothing, so text without a
// credential is returned as it is, without a copy.
type splicer struct {
	s    string
	b    strings.Builder
	last int // where the last replaced span ended; 0 while none was
}

// replace writes s from the end of the last replaced span up to start,
// then with in place of s[start:end]. Spans must not be empty.
func (p *splicer) replace(start, end int, with string) {
	p.b.WriteString(p.s[p.last:start])
	p.b.WriteString(with)
	p.last = end
}

// String returns s with the spans replaced.
func (p *splicer) String() string {
	if p.last == 0 {
		return p.s
	}
	p.b.WriteString(p.s[p.last:])
	return p.b.String()
}

// schemeAt returns the length of the auth scheme s starts with, or 0.
func schemeAt(s string) int {
	for _, w := range schemeWords {
		if len(s) >= len(w) && strings.EqualFold(s[:len(w)], w) {
			return len(w)
		}
	}
	return 0
}

// opaque reports whether a word looks machine-made rather than like prose:
// it has a digit, a symbol, or a capital letter after its first character.
func opaque(w string) bool {
	for i, r := range w {
		switch {
		case r >= '0' && r <= '9':
			return true
		case r >= 'A' && r <= 'Z':
			if i > 0 {
				return true
			}
		case r >= 'a' && r <= 'z':
		default:
			return true
		}
	}
	return false
}

// clean makes s one line of valid UTF-8: invalid bytes become U+FFFD and
// control characters become spaces.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	for _, r := range s {
		if unicode.IsControl(r) {
			return strings.Map(func(r rune) rune {
				if unicode.IsControl(r) {
					return ' '
				}
				return r
			}, s)
		}
	}
	return s
}

// containsFold reports whether s contains the lower-case ASCII word w in
// any case.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i]|0x20 == w[0] && strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func isWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// isTokenChar reports whether c can be part of a bearer or basic
// credential (RFC 6750 b64token).
func isTokenChar(c byte) bool {
	return isWord(c) || strings.IndexByte(".~+/=-", c) >= 0
}
