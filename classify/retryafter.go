package classify

import (
	"net/http"
	"strings"
	"time"
)

// MaxRetryAfter is the largest wait [ParseRetryAfter] returns. Larger values
// are clamped to it, so a hostile or broken header cannot park work for
// years. Retry policies usually cap it further.
const MaxRetryAfter = 24 * time.Hour

// ParseRetryAfter parses the value of a Retry-After header in either of its
// forms: delta-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00
// GMT"), relative to now.
//
// It returns the wait and true for a well-formed value. A date in the past
// gives 0 (retry now); a value beyond [MaxRetryAfter], including one too large
// to represent, gives MaxRetryAfter. A malformed value, including a negative
// number, gives 0 and false. It never panics.
func ParseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(value)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		return secondsClamped(v), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	switch {
	case d < 0:
		return 0, true
	case d > MaxRetryAfter:
		return MaxRetryAfter, true
	}
	return d, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// secondsClamped converts a string of decimal digits to a duration in
// seconds, clamped to MaxRetryAfter without overflowing on any length.
func secondsClamped(digits string) time.Duration {
	limit := int64(MaxRetryAfter / time.Second)
	var n int64
	for i := 0; i < len(digits); i++ {
		n = n*10 + int64(digits[i]-'0')
		if n > limit {
			return MaxRetryAfter
		}
	}
	return time.Duration(n) * time.Second
}
