// Package httpsyntax checks the RFC 9110 syntax of what goes on the wire
// (methods, header names and values), so that a request that could never
// be sent is refused when a message is validated, not retried.
//
//	if !httpsyntax.Token(name) || !httpsyntax.HeaderValue(value) { ... }
package httpsyntax

import "strings"

// Token reports whether s is an RFC 9110 token, the syntax of header
// names and methods: one or more of the visible ASCII characters other
// than delimiters.
func Token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar[s[i]] {
			return false
		}
	}
	return true
}

// tokenChar marks the bytes a token may hold (a table: Token runs on every
// header of every request).
var tokenChar = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c)
	}
	return t
}()

// HeaderValue reports whether s can be sent as a header value: no
// control characters other than horizontal tab (net/http refuses CR, LF,
// NUL and the rest at send time, and a request refused once is refused on
// every retry).
func HeaderValue(s string) bool { return !HasControl(s, true) }

// HasControl reports whether s has a control character: C0 (below U+0020),
// DEL or C1 (U+0080 to U+009F), tab excepted when allowTab is set. Bytes
// that are not UTF-8 are not control characters.
func HasControl(s string, allowTab bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\t':
			if !allowTab {
				return true
			}
		case c < 0x20 || c == 0x7f:
			return true
		case c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f: // UTF-8 of U+0080..U+009F
			return true
		}
	}
	return false
}

// TransportHeader reports whether a request header named name with value v
// belongs to the HTTP transport rather than to a message: the
// connection-specific headers of RFC 9110 §7.6.1, which HTTP/2 and HTTP/3
// forbid (net/http refuses an HTTP/2 request that carries Connection,
// Upgrade or Transfer-Encoding, and would do so on every retry), TE other
// than "trailers", and the framing and routing headers it sets itself
// from the request (Host, Content-Length, Trailer).
func TransportHeader(name, v string) bool {
	switch {
	case strings.EqualFold(name, "TE"):
		return !strings.EqualFold(strings.TrimSpace(v), "trailers")
	case strings.EqualFold(name, "Connection"), strings.EqualFold(name, "Keep-Alive"),
		strings.EqualFold(name, "Proxy-Connection"), strings.EqualFold(name, "Transfer-Encoding"),
		strings.EqualFold(name, "Upgrade"), strings.EqualFold(name, "Host"),
		strings.EqualFold(name, "Content-Length"), strings.EqualFold(name, "Trailer"):
		return true
	}
	return false
}
