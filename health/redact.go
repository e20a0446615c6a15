package health

import (
	"github.com/outbound-go/outbound/internal/redact"
	"github.com/outbound-go/outbound/internal/text"
)

// MaxOutput is the most bytes of error text [Redact] returns, and so the
// most a [DownError] or the [Endpoint] report shows of a check's error.
const MaxOutput = 256

// Redact returns s made safe to show in a report, a log line or an error,
// using the library's one redactor (the same rules delivery applies to
// stored attempt errors): URLs keep scheme, host, short or word-like path
// segments but lose user info, the query (names too), fragments and long
// opaque path segments; credentials after names such as
// Authorization, Cookie, token, password, api_key or signature, bearer and
// basic credentials, JWTs and API keys with well-known prefixes are
// replaced by "[redacted]"; control characters become spaces; invalid
// UTF-8 is replaced; and the result is cut to [MaxOutput] bytes at a rune
// boundary, ending in "…" when cut.
//
// Redaction is a safety net for error text the package did not write
// (errors from user Checkers). It recognises common shapes of secrets, not
// every one: a Checker should still keep credentials out of its errors.
func Redact(s string) string { return text.Ellipsis(redact.Text(s), MaxOutput) }

// truncate cuts s to at most n bytes at a rune boundary, marking a cut with
// an ellipsis that fits within n (text.Ellipsis; kept under this name for
// the body-field checker's echoed values).
func truncate(s string, n int) string { return text.Ellipsis(s, n) }
