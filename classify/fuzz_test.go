package classify_test

import (
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/outbound-go/outbound/classify"
)

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", "1e3", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT",
		"Wednesday, 21-Oct-15 07:28:00 GMT", "Wed Oct 21 07:28:00 2015", "", " ", "\x00", "１２"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := classify.ParseRetryAfter(v, now)
		if d < 0 || d > classify.MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v outside [0, %v]", v, d, classify.MaxRetryAfter)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v with ok=false", v, d)
		}
	})
}

func FuzzHTTPClassify(f *testing.F) {
	f.Add(200, "", []byte(`{"ok":true}`))
	f.Add(429, "30", []byte("slow down"))
	f.Add(503, "Wed, 21 Oct 2015 07:28:00 GMT", []byte("\xff\xfe invalid utf8"))
	f.Add(409, "-1", []byte("already processed"))
	f.Add(-7, "1e400", []byte{})
	f.Add(503, "", []byte("<html>already processed</html>"))
	f.Add(500, "", []byte("already processed"))
	rules := classify.HTTPRules{
		Statuses: map[int]classify.Class{409: classify.ClassDuplicate},
		Body: classify.FirstMatch(
			classify.BodyContains("already processed", classify.ClassDuplicate),
			classify.BodyContains("ok", classify.ClassOK),
		),
		BodyByStatus: map[int]classify.BodyRule{
			500: classify.BodyContains("already processed", classify.ClassDuplicate),
		},
	}
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		resp := &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {retryAfter}}}
		err := rules.Classify(resp, body)
		c := classify.Of(err)
		if !c.Valid() {
			t.Fatalf("invalid class %v", c)
		}
		// Only a 2xx, a 4xx other than 408, 425 and 429, the 409 override
		// and the rule scoped to 500 may end delivered.
		processed := status >= 200 && status <= 299 ||
			status >= 400 && status <= 499 && status != 408 && status != 425 && status != 429
		if c.Delivered() && !processed && status != 500 {
			t.Fatalf("status %d with body %q classified %v", status, body, c)
		}
		if (err == nil) != (c == classify.ClassOK) {
			t.Fatalf("nil error must mean OK, got %v for %v", c, err)
		}
		if err == nil {
			return
		}
		var ce *classify.Error
		if !errorsAs(err, &ce) {
			t.Fatalf("Classify returned %T, want *classify.Error", err)
		}
		if len(ce.Body) > classify.MaxBodySnippet || !utf8.ValidString(ce.Body) {
			t.Fatalf("body snippet not bounded valid UTF-8: %d bytes", len(ce.Body))
		}
		if ce.RetryAfter < 0 || ce.RetryAfter > classify.MaxRetryAfter {
			t.Fatalf("retry-after %v out of range", ce.RetryAfter)
		}
		_ = ce.Error()
	})
}
