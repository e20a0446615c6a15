// Package text cuts strings to a byte budget without splitting a UTF-8
// sequence, the one implementation behind every bounded text the library
// keeps: response-body snippets, stored error texts, redacted reports and
// logged payloads.
//
//	text.Truncate("héllo", 2)  // "h" (the "é" would be split)
//	text.Ellipsis("héllo", 5)  // "h…" (the mark fits within the 5 bytes)
//	text.Snippet("a\xffb", 8)  // "a\uFFFDb" (valid UTF-8, at most 8 bytes)
package text
