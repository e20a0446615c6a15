package classify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/classify"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{"  7 ", 7 * time.Second, true},
		{"0", 0, true},
		{"86400", 24 * time.Hour, true},
		{"86401", classify.MaxRetryAfter, true},
		{"1744099200000", classify.MaxRetryAfter, true},                 // go-retryablehttp #247: a millisecond timestamp
		{"99999999999999999999999999999", classify.MaxRetryAfter, true}, // overflows int64
		{"Mon, 23 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Monday, 23-Nov-26 12:01:00 GMT", time.Minute, true}, // RFC 850
		{"Mon Nov 23 12:00:10 2026", 10 * time.Second, true},  // ANSI C asctime
		{"Sun, 22 Nov 2026 12:00:00 GMT", 0, true},            // in the past: retry now
		{"Fri, 01 Jan 2100 00:00:00 GMT", classify.MaxRetryAfter, true},
		{"", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"Mon, 99 Nov 2026 12:00:30 GMT", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := classify.ParseRetryAfter(tc.in, now)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}
