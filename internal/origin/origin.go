// Package origin compares the origins of URLs: scheme, host and port, the
// unit a credential is issued for. delivery's redirect policy and
// tokencache.Transport both use it to decide that a request goes where
// the first request of its redirect chain went, and nowhere else.
//
//	origin.Same(mustParse("https://api.example/a"), mustParse("https://API.example:443/b")) // true
//	origin.Same(mustParse("https://api.example/a"), mustParse("https://api.example:8443/a")) // false
//	origin.Same(mustParse("http://api.example/a"), mustParse("https://api.example/a"))       // false
package origin

import (
	"net/url"
	"strings"
)

// Same reports whether a and b have the same origin: the same scheme, the
// same host (compared without case, a trailing dot ignored) and the same
// port, an absent port counting as the scheme's default (80 for http, 443
// for https). A nil URL, or one without a host, matches nothing.
func Same(a, b *url.URL) bool {
	if a == nil || b == nil || a.Host == "" || b.Host == "" {
		return false
	}
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(hostname(a), hostname(b)) &&
		port(a) == port(b)
}

func hostname(u *url.URL) string { return strings.TrimSuffix(u.Hostname(), ".") }

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}
