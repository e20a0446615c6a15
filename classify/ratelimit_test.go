package classify_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/classify"
)

func TestParseRateLimit(t *testing.T) {
	now := time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header map[string]string
		want   classify.RateLimit
		ok     bool
	}{
		{"none", nil, classify.RateLimit{}, false},
		{"retry-after", map[string]string{"Retry-After": "3"}, classify.RateLimit{RetryAfter: 3 * time.Second}, true},
		{"ietf structured", map[string]string{"RateLimit-Policy": `"default";q=100;w=60`, "RateLimit": `"default";r=50;t=30`},
			classify.RateLimit{Quota: 100, Window: time.Minute, Remaining: 50, HasRemaining: true, Reset: 30 * time.Second}, true},
		{"ietf strictest policy", map[string]string{"RateLimit-Policy": `"burst";q=100;w=1, "day";q=86400;w=86400, "min";q=600;w=60`},
			classify.RateLimit{Quota: 86400, Window: 24 * time.Hour}, true},
		{"earlier draft", map[string]string{"RateLimit-Limit": "20", "RateLimit-Remaining": "0", "RateLimit-Reset": "1", "RateLimit-Policy": "20;w=1"},
			classify.RateLimit{Quota: 20, Window: time.Second, Remaining: 0, HasRemaining: true, Reset: time.Second}, true},
		{"combined draft", map[string]string{"RateLimit": "limit=100, remaining=7, reset=12"},
			classify.RateLimit{Quota: 100, Remaining: 7, HasRemaining: true, Reset: 12 * time.Second}, true},
		{"x-ratelimit seconds", map[string]string{"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999", "X-RateLimit-Reset": "42"},
			classify.RateLimit{Quota: 5000, Remaining: 4999, HasRemaining: true, Reset: 42 * time.Second}, true},
		{"x-ratelimit unix time", map[string]string{"X-RateLimit-Reset": "1796454060"},
			classify.RateLimit{Reset: time.Unix(1796454060, 0).Sub(now)}, true},
		{"hostile numbers", map[string]string{"X-RateLimit-Limit": "99999999999999999999999", "X-RateLimit-Reset": "9999999999999"},
			classify.RateLimit{Quota: 1 << 40, Reset: classify.MaxRetryAfter}, true},
		{"malformed", map[string]string{"X-RateLimit-Limit": "lots", "RateLimit-Policy": "q=;w=x", "RateLimit": `"a";r=-3`}, classify.RateLimit{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			got, ok := classify.ParseRateLimit(h, now)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
	r, ok := classify.RateLimit{Quota: 100, Window: time.Minute}.Rate()
	assert.True(t, ok)
	assert.InDelta(t, 100.0/60, r, 1e-9)
	_, ok = classify.RateLimit{Quota: 100}.Rate()
	assert.False(t, ok, "no window, no rate")
}

func FuzzParseRateLimit(f *testing.F) {
	for _, s := range []string{`"default";q=100;w=60`, "20;w=1", "limit=100, remaining=7, reset=12", `"a";r=1;t=2, "b";r=0;t=9`, "1796454060", `";,=`} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{}
		for _, k := range []string{"Ratelimit", "Ratelimit-Policy", "X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "Retry-After"} {
			h[k] = []string{v}
		}
		l, _ := classify.ParseRateLimit(h, now)
		if l.Quota < 0 || l.Remaining < 0 || l.Window < 0 || l.Reset < 0 || l.Reset > classify.MaxRetryAfter || l.RetryAfter < 0 {
			t.Fatalf("out of bounds: %+v", l)
		}
		if r, ok := l.Rate(); ok && r <= 0 {
			t.Fatalf("rate %v", r)
		}
	})
}
