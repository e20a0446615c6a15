package redact_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/internal/redact"
)

func TestTextKeepsOrdinaryText(t *testing.T) {
	for _, s := range []string{
		"connection refused",
		"ephemeral: http 503 Service Unavailable",
		`permanent: http 422 Unprocessable Entity: body "{\"error\":\"email is required\",\"field\":\"email\"}"`,
		`permanent: http 400 Bad Request: body "basic validation failed: invalid token format"`,
		"dial tcp 10.0.0.7:443: i/o timeout",
		"delivery: dial guard refused 127.0.0.1 (loopback address)",
		`Post "https://api.partner.example/v2/customer-applications/42": EOF`,
		`Get "http://[::1]:8080/health": context deadline exceeded`,
		"bearer token missing",
		"the author: Jane",
		"café ☕ ok",
	} {
		assert.Equal(t, s, redact.Text(s), "ordinary text must survive")
	}
}

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		// URLs: user info, queries, fragments, opaque path segments.
		{`Post "https://partner.example/hook?api_key=s3cr3t&page=2": EOF`,
			`Post "https://partner.example/hook?[redacted]": EOF`},
		{"https://u:p@partner.example/v2/status#frag", "https://[redacted]@partner.example/v2/status#[redacted]"},
		{"posting to https://hooks.slack.com/services/T0000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX.",
			"posting to https://hooks.slack.com/services/T0000000/B00000000/[redacted]."},
		{"https://discord.com/api/webhooks/123456789012345678/AbCd-EfGh_IjKl0123456789",
			"https://discord.com/api/webhooks/[redacted]/[redacted]"},
		{"(see https://h.example/p?token=abc)", "(see https://h.example/p?[redacted])"},
		{"https://h.example/x?0123456789abcdef0123", "https://h.example/x?[redacted]"},
		{`parse "://nope?key=s3cr3t": missing protocol scheme`, `parse "[redacted]": missing protocol scheme`},
		{`parse "1http://h/p?key=s3cr3t": first path segment in URL cannot contain colon`, `parse "1http://h/p?[redacted]": first path segment in URL cannot contain colon`},
		{`body "{\"next\":\"https://h.example/p?sig=abc\"}"`, `body "{\"next\":\"https://h.example/p?[redacted]\"}"`},
		// Credential pairs, in headers, forms, JSON and quoted JSON.
		{"Authorization: Bearer abc.def", "Authorization: [redacted]"},
		{"authorization=Basic dXNlcjpwYXNz", "authorization=[redacted]"},
		{"Proxy-Authorization: Basic dXNlcjpwYXNz", "Proxy-Authorization: [redacted]"},
		{"X-Api-Key: k-123", "X-Api-Key: [redacted]"},
		{"client_id=app&client_secret=xyz&grant_type=client_credentials",
			"client_id=app&client_secret=[redacted]&grant_type=client_credentials"},
		{`{"access_token":"abc","password": "p w"}`, `{"access_token":"[redacted]","password": "[redacted] w"}`},
		{`body "{\"refresh_token\":\"r-123\",\"ok\":false}"`, `body "{\"refresh_token\":\"[redacted]\",\"ok\":false}"`},
		{"api_key=k1&signature=s1", "api_key=[redacted]&signature=[redacted]"},
		{"x_auth_token=abc123 rest", "x_auth_token=[redacted] rest"},
		{"Cookie: sid=abc; theme=dark", "Cookie: [redacted]"},
		{"Set-Cookie: session=abc; Path=/; HttpOnly\nnext line", "Set-Cookie: [redacted] next line"},
		// Credentials on their own.
		{"sent bearer 0123456789abcdef", "sent bearer [redacted]"},
		{"sent Basic dXNlcjpwYXNz!", "sent Basic [redacted]!"},
		{"token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig leaked", "token [redacted] leaked"},
		{"key sk_live_4eC39HqLyjWDarjtT1zdp7dc rejected", "key [redacted] rejected"},
		{"id AKIAIOSFODNN7EXAMPLE", "id [redacted]"},
		{"xoxb-123456789012-abcdefABCDEF", "[redacted]"},
		// One line of valid text.
		{"line one\nline two\ttab", "line one line two tab"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
	}
	for _, tt := range tests {
		got := redact.Text(tt.in)
		assert.Equal(t, tt.want, got, "Text(%q)", tt.in)
		assert.Equal(t, got, redact.Text(got), "Text is idempotent on %q", tt.in)
	}
}

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://partner.example/v1/orders/42", "https://partner.example/v1/orders/42"},
		{"https://user:hunter2@partner.example:8443/p?q=1&flag", "https://[redacted]@partner.example:8443/p?[redacted]"},
		{"https://hooks.slack.com/services/T1/B2/AbCdEfGh0123456789xyzQ", "https://hooks.slack.com/services/T1/B2/[redacted]"},
		{"https://partner.example/long-but-plain-segment-name/x", "https://partner.example/long-but-plain-segment-name/x"},
		{"http://[::1]:80/a?", "http://[::1]:80/a?"},
		{"http://h.example/a%20b?x=%41", "http://h.example/a%20b?[redacted]"},
		{"://nope", "[redacted]"},
		{"/relative/path?token=x", "[redacted]"},
		{"http://h.example/p\x7f", "[redacted]"},
	}
	for _, tt := range tests {
		got := redact.URL(tt.in)
		assert.Equal(t, tt.want, got, "URL(%q)", tt.in)
		assert.Equal(t, got, redact.URL(got), "URL is idempotent on %q", tt.in)
	}
}

func TestSensitiveName(t *testing.T) {
	for _, n := range []string{"Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "X-Api-Key",
		"X-Auth-Token", "x-client-secret", "X-Password", "Idempotency-Key", "X-Session-Id", "X-Hub-Signature"} {
		assert.True(t, redact.SensitiveName(n), n)
	}
	for _, n := range []string{"Content-Type", "Accept", "X-Tenant", "X-Correlation-ID", "User-Agent"} {
		assert.False(t, redact.SensitiveName(n), n)
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{
		"", "plain", "https://a:b@h/p?q=1", "Authorization: Bearer x", "token=", "://", "http://[::1",
		"x://" + strings.Repeat("a", 300), "password=\xff\xfe", "eyJ.a.b", "[redacted]", "http://h/[redacted]",
		`"{\"token\":\"x\"}"`, "Cookie: a=b", "(http://h/p)]", "http://[redacted]@h/#[redacted]",
	} {
		f.Add(s)
	}
	const secret = "Zx9SECRETvalue0"
	f.Fuzz(func(t *testing.T, s string) {
		out := redact.Text(s)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8: %q", out)
		}
		for _, r := range out {
			if unicode.IsControl(r) {
				t.Fatalf("control character in %q", out)
			}
		}
		if again := redact.Text(out); again != out {
			t.Fatalf("not idempotent:\n in   %q\n once %q\n twice %q", s, out, again)
		}
		// A planted secret never survives, whatever surrounds it.
		for _, planted := range []string{
			s + " https://partner.example/h?key=" + secret + " " + s,
			s + " https://user:" + secret + "@partner.example/h " + s,
			s + " https://hooks.example/services/T1/B2/" + secret + "abcdef " + s,
			s + " Authorization: Bearer " + secret + " " + s,
			s + " password=" + secret + " " + s,
			s + ` "{\"client_secret\":\"` + secret + `\"}" ` + s,
			s + " bearer " + secret + " " + s,
		} {
			if got := redact.Text(planted); strings.Contains(got, secret) {
				t.Fatalf("secret survived in %q", got)
			}
		}
	})
}

func BenchmarkText(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"plain", "ephemeral: http 503 Service Unavailable: body \"upstream overloaded, try later\""},
		{"url", `Post "https://user:pw@partner.example/v2/hooks/AbCdEf0123456789xyz?api_key=s3cr3t": dial tcp 10.0.0.7:443: i/o timeout`},
		{"credentials", `permanent: http 401 Unauthorized: body "{\"error\":\"invalid_token\",\"access_token\":\"abc\"}" Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = redact.Text(bc.s)
			}
		})
	}
}

func TestBounded(t *testing.T) {
	long := "issuer said: client_secret=s3cr3t " + strings.Repeat("x", 1<<20)
	got := redact.Bounded(long, 100)
	assert.LessOrEqual(t, len(got), 100)
	assert.True(t, strings.HasPrefix(got, "issuer said: client_secret=[redacted] xxx"), got)
	assert.True(t, strings.HasSuffix(got, "…"), got)

	// A credential that straddles the cut is redacted whole before the cut.
	straddle := strings.Repeat("a", 90) + " Authorization: Basic c3ZjOnMzY3IzdA== " + strings.Repeat("b", 1000)
	got = redact.Bounded(straddle, 120)
	assert.NotContains(t, got, "c3Zj")
	assert.LessOrEqual(t, len(got), 120)

	assert.Equal(t, "short token=[redacted]", redact.Bounded("short token=abc", 100))
	assert.Equal(t, "", redact.Bounded("anything", 0))
	assert.Equal(t, "line one line two", redact.Bounded("line one\nline two", 100))
}
