package redact

import (
	"net/url"
	"strings"
)

// urls redacts every absolute URL in free text with URL. A URL is "://"
// with the scheme before it (a letter, then letters, digits, '+', '-' or
// '.'; a URL without one is replaced whole), and ends at white space, a
// quote, an angle bracket, a backtick or a backslash (the escape before a
// quote in strconv.Quote'd text).
func urls(s string) string {
	out := splicer{s: s}
	for from := 0; ; {
		i := strings.Index(s[from:], "://")
		if i < 0 {
			break
		}
		i += from
		start := i
		for start > out.last && isSchemeChar(s[start-1]) {
			start--
		}
		for start < i && !isLetter(s[start]) {
			start++
		}
		end := i + 3
		for end < len(s) && !isSpace(s[end]) && strings.IndexByte("\"'<>\\`", s[end]) < 0 {
			end++
		}
		if end == i+3 {
			from = i + 3
			continue
		}
		// Without a scheme ("://nope?key=x", quoted by a parse error) it
		// is still a URL, one URL cannot show: it is replaced whole.
		out.replace(start, end, urlInText(s[start:end]))
		from = end
	}
	return out.String()
}

// urlInText redacts one URL found in free text, keeping punctuation that
// ends a sentence rather than the URL: a full stop, a comma and the like,
// and a closing bracket that has no opening one in the URL (so
// "http://[::1]" keeps its bracket and "(see http://x/y)" loses one). When
// the URL does not parse without that punctuation, it is kept ("a://!").
func urlInText(raw string) string {
	var open, closed [3]int // (), [], {}
	for i := 0; i < len(raw); i++ {
		if k := strings.IndexByte("([{", raw[i]); k >= 0 {
			open[k]++
		} else if k := strings.IndexByte(")]}", raw[i]); k >= 0 {
			closed[k]++
		}
	}
	end := len(raw)
	for end > 0 && !strings.HasSuffix(raw[:end], Marker) {
		c := raw[end-1]
		if strings.IndexByte(".,;:!?", c) < 0 {
			k := strings.IndexByte(")]}", c)
			if k < 0 || closed[k] <= open[k] {
				break
			}
			closed[k]--
		}
		end--
	}
	if out := URL(raw[:end]); out != Marker || end == len(raw) {
		return out + raw[end:]
	}
	return URL(raw)
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isSchemeChar(c byte) bool {
	return isLetter(c) || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// maxPlainSegment is the longest URL path segment kept
// whatever it looks like. Longer ones are kept only when they read like
// words (see plain): webhook URLs carry their secret as a long opaque path
// segment (hooks.slack.com/services/T…/B…/<secret>).
const maxPlainSegment = 16

// placeholder stands for Marker while a URL that was already redacted is
// parsed again (brackets are not valid in user info or paths); it is a
// short, plain path segment, so the path rule keeps it.
const placeholder = "redacted-marker"

// URL returns raw reduced to what is safe to show: scheme, host and port
// stay; user info, the query and the fragment are each replaced by
// [Marker]; path segments stay unless they are longer than 16 bytes and
// opaque (anything but lower-case letters, '-', '_' and '.'), as webhook
// secrets are. Input that does not parse as an absolute URL with a host is
// replaced entirely. URL is idempotent.
func URL(raw string) string {
	u, err := url.Parse(strings.ReplaceAll(raw, Marker, placeholder))
	if err != nil || u.Host == "" {
		return Marker
	}
	var b strings.Builder
	b.Grow(len(raw) + 16)
	b.WriteString(u.Scheme)
	b.WriteString("://")
	if u.User != nil {
		b.WriteString(Marker + "@")
	}
	b.WriteString(u.Host)
	if p := u.EscapedPath(); p != "" {
		for i, seg := range strings.Split(p, "/") {
			if i > 0 {
				b.WriteByte('/')
			}
			b.WriteString(segment(seg))
		}
	}
	if u.RawQuery != "" {
		// Names too can carry a key ("?<key>"), and a query says little
		// that a reader of a dead letter needs.
		b.WriteString("?" + Marker)
	} else if u.ForceQuery {
		b.WriteByte('?')
	}
	if u.Fragment != "" {
		b.WriteString("#" + Marker)
	}
	return b.String()
}

// segment returns a path segment as it may be shown.
func segment(seg string) string {
	switch {
	case seg == placeholder:
		return Marker
	case len(seg) <= maxPlainSegment || plain(seg):
		return seg
	}
	return Marker
}

// plain reports whether s reads like words: only lower-case ASCII letters,
// '-', '_' and '.'. Secrets are random, and random strings of any length
// that matters have digits or capitals.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
