package health_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/health"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"connection refused", "connection refused"},
		{`Get "https://partner.example/health?token=abc": EOF`, `Get "https://partner.example/health?[redacted]": EOF`},
		{"https://u:p@partner.example/v2/status#frag", "https://[redacted]@partner.example/v2/status#[redacted]"},
		{"posting to https://hooks.example/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX.",
			"posting to https://hooks.example/services/T000/B000/[redacted]."},
		{"Authorization: Bearer abc.def", "Authorization: [redacted]"},
		{"authorization=Basic dXNlcjpwYXNz", "authorization=[redacted]"},
		{`{"access_token":"abc","password": "p w"}`, `{"access_token":"[redacted]","password": "[redacted] w"}`},
		{"api_key=k1&signature=s1", "api_key=[redacted]&signature=[redacted]"},
		{"sent bearer 0123456789abcdef", "sent bearer [redacted]"},
		{"token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig leaked", "token [redacted] leaked"},
		{"line one\nline two\ttab", "line one line two tab"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		// The partner's words stay readable.
		{`http 400: body "{\"error\":\"basic validation failed: email is required\"}"`,
			`http 400: body "{\"error\":\"basic validation failed: email is required\"}"`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, health.Redact(tt.in), "Redact(%q)", tt.in)
	}
}

func TestRedactBounds(t *testing.T) {
	out := health.Redact(strings.Repeat("é", 1000))
	assert.LessOrEqual(t, len(out), health.MaxOutput)
	assert.True(t, utf8.ValidString(out))
	assert.True(t, strings.HasSuffix(out, "…"))
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"", "plain", "https://a:b@h/p?q=1", "Authorization: Bearer x", "token=", "://", "http://[::1",
		"x://" + strings.Repeat("a", 300), "password=\xff\xfe", "eyJ.a.b",
	} {
		f.Add(s)
	}
	const secret = "Zx9SECRETvalue"
	f.Fuzz(func(t *testing.T, s string) {
		out := health.Redact(s)
		if len(out) > health.MaxOutput {
			t.Fatalf("len %d > MaxOutput", len(out))
		}
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8: %q", out)
		}
		for _, r := range out {
			if unicode.IsControl(r) {
				t.Fatalf("control character in %q", out)
			}
		}
		// A secret in a query string or after Authorization never survives,
		// whatever surrounds it.
		for _, planted := range []string{
			s + " https://partner.example/h?key=" + secret + " " + s,
			s + " Authorization: Bearer " + secret + " " + s,
		} {
			if strings.Contains(health.Redact(planted), secret) {
				t.Fatalf("secret survived in %q", health.Redact(planted))
			}
		}
	})
}
