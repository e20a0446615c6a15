package health

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/outbound-go/outbound/internal/text"
)

// MaxOutput is the most bytes of error text [Redact] returns, and so the
// most a [DownError] or the [Endpoint] report shows of a check's error.
const MaxOutput = 256

const redacted = "[redacted]"

var (
	// urlPattern finds absolute URLs in free text.
	urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]+`)
	// secretPairPattern finds "name: value" and "name=value" pairs whose
	// name says the value is a credential, including "Authorization: Bearer x".
	secretPairPattern = regexp.MustCompile(`(?i)\b(proxy-authorization|authorization|set-cookie|cookie|x-api-key|api[-_]?key|access[-_]?token|refresh[-_]?token|id[-_]?token|client[-_]?secret|token|secret|password|passwd|pwd|signature|sig)("?\s*[:=]\s*"?)((?:bearer|basic|digest)\s+[^\s"',;&]+|[^\s"',;&]+)`)
	// schemePattern finds credentials after an auth scheme on their own.
	schemePattern = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}`)
	// jwtPattern finds JSON Web Tokens.
	jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
)

// maxPathSegment is the longest URL path segment Redact keeps; longer ones
// are as likely to be a secret (webhook URLs carry them in the path) as a
// name.
const maxPathSegment = 16

// Redact returns s made safe to show in a report, a log line or an error:
// URLs keep scheme, host and short path segments but lose user info, query
// and fragment; credentials after names such as Authorization, token,
// password, api_key or signature, bearer and basic credentials and JWTs are
// replaced by "[redacted]"; control characters become spaces; invalid UTF-8
// is replaced; and the result is cut to [MaxOutput] bytes at a rune
// boundary, ending in "…" when cut.
//
// Redaction is a safety net for error text the package did not write
// (errors from user Checkers). It recognises common shapes of secrets, not
// every one: a Checker should still keep credentials out of its errors.
func Redact(s string) string {
	s = urlPattern.ReplaceAllStringFunc(s, redactURL)
	s = secretPairPattern.ReplaceAllString(s, "${1}${2}"+redacted)
	s = schemePattern.ReplaceAllString(s, "${1} "+redacted)
	s = jwtPattern.ReplaceAllString(s, redacted)
	// Last, because URL parsing decodes percent-escapes.
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return text.Ellipsis(s, MaxOutput)
}

// redactURL reduces a URL to scheme, host and path, replacing long path
// segments and any user info, query or fragment with a marker.
func redactURL(raw string) string {
	// Text often ends a URL with punctuation that is not part of it.
	trail := ""
	if i := strings.LastIndexAny(raw, ".,;:)]}"); i == len(raw)-1 {
		raw, trail = raw[:i], raw[i:]
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return redacted + trail
	}
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteString("://")
	if u.User != nil {
		b.WriteString(redacted + "@")
	}
	b.WriteString(u.Host)
	if u.Path != "" {
		segs := strings.Split(u.EscapedPath(), "/")
		for i, seg := range segs {
			if len(seg) > maxPathSegment {
				segs[i] = redacted
			}
		}
		b.WriteString(strings.Join(segs, "/"))
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		b.WriteString("?" + redacted)
	}
	b.WriteString(trail)
	return b.String()
}

// truncate cuts s to at most n bytes at a rune boundary, marking a cut with
// an ellipsis that fits within n (text.Ellipsis; kept under this name for
// the body-field checker's echoed values).
func truncate(s string, n int) string { return text.Ellipsis(s, n) }
