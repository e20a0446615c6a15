package classify

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RateLimit is what a partner's response says about its rate limit, read
// by ParseRateLimit. Zero fields are unknown.
type RateLimit struct {
	// Quota is how many requests the partner allows per Window
	// (RateLimit-Policy q, RateLimit-Limit, X-RateLimit-Limit).
	Quota int64
	// Window is the span Quota is counted over (RateLimit-Policy w).
	Window time.Duration
	// Remaining is how many requests are left before Reset
	// (RateLimit r, RateLimit-Remaining, X-RateLimit-Remaining); see
	// HasRemaining.
	Remaining int64
	// HasRemaining reports that Remaining was given (zero is a real
	// answer: nothing left).
	HasRemaining bool
	// Reset is how long until the quota is replenished (RateLimit t,
	// RateLimit-Reset, X-RateLimit-Reset as seconds or as a Unix time).
	Reset time.Duration
	// RetryAfter is the Retry-After header's wait.
	RetryAfter time.Duration
}

// Rate returns the request rate per second the partner's policy allows,
// Quota/Window, and whether both are known.
func (l RateLimit) Rate() (float64, bool) {
	if l.Quota <= 0 || l.Window <= 0 {
		return 0, false
	}
	return float64(l.Quota) / l.Window.Seconds(), true
}

// maxQuota bounds the numbers ParseRateLimit keeps.
const maxQuota = 1 << 40

// ParseRateLimit reads a response's rate-limit headers at now: the IETF
// httpapi drafts' RateLimit and RateLimit-Policy structured fields
// (`"default";r=50;t=30` and `"default";q=100;w=60`, and the earlier
// drafts' RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset and
// `limit=100, remaining=50, reset=30`), the common X-RateLimit-Limit,
// X-RateLimit-Remaining and X-RateLimit-Reset (seconds, or a Unix time
// when it is one), and Retry-After. ok is false when none of them is
// there or well-formed. Malformed parts are ignored, numbers are bounded
// and durations capped at MaxRetryAfter; it never panics. Where several
// policies are listed, the strictest (lowest rate) is kept.
func ParseRateLimit(h http.Header, now time.Time) (l RateLimit, ok bool) {
	// The names are written canonically and h is indexed directly, as
	// h.Get would after canonicalizing them again on every response.
	if v := headerValue(h, "Retry-After"); v != "" {
		if d, good := ParseRetryAfter(v, now); good {
			l.RetryAfter, ok = d, true
		}
	}
	for _, name := range [...]string{"X-Ratelimit-Limit", "Ratelimit-Limit"} {
		if n, good := leadingInt(headerValue(h, name)); good {
			l.Quota, ok = n, true
		}
	}
	for _, name := range [...]string{"X-Ratelimit-Remaining", "Ratelimit-Remaining"} {
		if n, good := leadingInt(headerValue(h, name)); good {
			l.Remaining, l.HasRemaining, ok = n, true, true
		}
	}
	for _, name := range [...]string{"X-Ratelimit-Reset", "Ratelimit-Reset"} {
		if n, good := leadingInt(headerValue(h, name)); good {
			l.Reset, ok = resetIn(n, now), true
		}
	}
	for _, v := range h["Ratelimit-Policy"] {
		for _, item := range splitList(v) {
			p := params(item)
			q, okq := p["q"]
			if !okq {
				q, okq = leadingInt(firstField(item)) // "100;w=60" (earlier drafts)
			}
			w, okw := p["w"]
			if !okq || !okw || q <= 0 || w <= 0 {
				continue
			}
			cand := RateLimit{Quota: q, Window: capped(time.Duration(w) * time.Second)}
			if cur, known := l.Rate(); !known || mustRate(cand) < cur || l.Window == 0 {
				l.Quota, l.Window = cand.Quota, cand.Window
			}
			ok = true
		}
	}
	for _, v := range h["Ratelimit"] {
		for _, item := range splitList(v) {
			p := params(item)
			if r, good := first(p, "r", "remaining"); good && (!l.HasRemaining || r < l.Remaining) {
				l.Remaining, l.HasRemaining, ok = r, true, true
			}
			if t, good := first(p, "t", "reset"); good {
				l.Reset, ok = resetIn(t, now), true
			}
			if q, good := first(p, "limit"); good {
				l.Quota, ok = q, true
			}
		}
	}
	return l, ok
}

// headerValue is h.Get(key) for a key in canonical form.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func mustRate(l RateLimit) float64 { r, _ := l.Rate(); return r }

func first(p map[string]int64, keys ...string) (int64, bool) {
	for _, k := range keys {
		if v, ok := p[k]; ok {
			return v, true
		}
	}
	return 0, false
}

// resetIn reads a reset value: seconds from now, or a Unix time when it is
// later than 2001 in seconds (no partner resets a quota 30 years ahead).
func resetIn(n int64, now time.Time) time.Duration {
	if n > 1_000_000_000 {
		return capped(max(0, time.Unix(n, 0).Sub(now)))
	}
	return capped(time.Duration(n) * time.Second)
}

func capped(d time.Duration) time.Duration {
	if d < 0 || d > MaxRetryAfter {
		return MaxRetryAfter
	}
	return d
}

// leadingInt reads the non-negative integer at the start of s (after
// spaces), up to maxQuota: "100", "100, 100;w=60".
func leadingInt(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0, false
	}
	if end > 13 {
		return maxQuota, true
	}
	n, err := strconv.ParseInt(s[:end], 10, 64)
	if err != nil {
		return 0, false
	}
	return min(n, maxQuota), true
}

// splitList splits a structured-field list on commas outside quotes.
func splitList(v string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// firstField is an item's value before its parameters.
func firstField(item string) string {
	f, _, _ := strings.Cut(item, ";")
	return f
}

// params reads an item's integer parameters, key=value separated by ';'
// (and a bare key=value item, as in "limit=100"); others are skipped.
func params(item string) map[string]int64 {
	out := map[string]int64{}
	for part := range strings.SplitSeq(item, ";") {
		k, v, found := strings.Cut(part, "=")
		if !found {
			continue
		}
		if n, ok := leadingInt(v); ok {
			out[strings.ToLower(strings.TrimSpace(k))] = n
		}
	}
	return out
}
