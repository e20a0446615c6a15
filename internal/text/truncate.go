package text

import (
	"strings"
	"unicode/utf8"
)

// Mark ends a string that [Ellipsis] cut.
const Mark = "…"

// Truncate returns the longest prefix of s that is at most n bytes and does
// not end in the middle of a UTF-8 sequence. It returns s when it fits and
// "" when n <= 0.
//
// Only an incomplete sequence at the cut is dropped: bytes of s that are
// not UTF-8 at all are kept as they are (see [Snippet] for text that must
// be valid), so invalid input never makes the result shorter than n - 3.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	// The last rune that starts in s[:n] begins at most UTFMax-1 bytes
	// back; drop it only if it is a sequence the cut left incomplete.
	for i := n - 1; i >= 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if !utf8.FullRuneInString(s[i:n]) {
				return s[:i]
			}
			break
		}
	}
	return s[:n]
}

// Ellipsis is [Truncate] that marks a cut: when s is longer than n bytes
// the result ends in [Mark] and is still at most n bytes. When n is too
// small to hold the mark, it is Truncate(s, n).
func Ellipsis(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < len(Mark) {
		return Truncate(s, n)
	}
	return Truncate(s, n-len(Mark)) + Mark
}

// Snippet returns at most n bytes of s as valid UTF-8: invalid bytes are
// replaced by U+FFFD and the result is cut at a rune boundary. Unlike
// strings.ToValidUTF8 followed by a cut, the replacement never makes the
// result longer than n.
func Snippet(s string, n int) string {
	s = Truncate(s, n) // bounds the work on a long input
	if utf8.ValidString(s) {
		return s
	}
	return Truncate(strings.ToValidUTF8(s, "\uFFFD"), n)
}
