package redact

import "github.com/outbound-go/outbound/internal/text"

// boundedSlack is how many times n bytes of a long input Bounded redacts
// before it cuts the result to n: enough that a credential which starts
// before the cut is redacted whole, not left half-shown at the end.
const boundedSlack = 4

// Bounded returns [Text] of s cut to at most n bytes, ending in text.Mark
// when cut (text.Ellipsis). Only the first boundedSlack*n bytes of s are
// redacted, so the cost is bounded by n, not by len(s): a 1 MiB error body
// costs what a few KiB do. It returns "" when n <= 0.
func Bounded(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) > boundedSlack*n {
		s = text.Truncate(s, boundedSlack*n)
	}
	return text.Ellipsis(Text(s), n)
}
