package classify_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
)

func response(status int, header ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &http.Response{StatusCode: status, Header: h}
}

func TestDefaultStatusClass(t *testing.T) {
	cases := map[int]classify.Class{
		200: classify.ClassOK, 201: classify.ClassOK, 202: classify.ClassOK, 204: classify.ClassOK, 299: classify.ClassOK,
		301: classify.ClassPermanent, 304: classify.ClassPermanent,
		400: classify.ClassPermanent, 401: classify.ClassPermanent, 403: classify.ClassPermanent,
		404: classify.ClassPermanent, 409: classify.ClassPermanent, 422: classify.ClassPermanent,
		408: classify.ClassEphemeral, 425: classify.ClassEphemeral, 429: classify.ClassEphemeral,
		500: classify.ClassEphemeral, 502: classify.ClassEphemeral, 503: classify.ClassEphemeral, 504: classify.ClassEphemeral, 599: classify.ClassEphemeral,
		600: classify.ClassPermanent, 0: classify.ClassPermanent,
	}
	for status, want := range cases {
		assert.Equal(t, want, classify.DefaultStatusClass(status), "status %d", status)
	}
}

func TestHTTPRulesClassify(t *testing.T) {
	rules := classify.HTTPRules{
		Statuses: map[int]classify.Class{409: classify.ClassDuplicate, 422: classify.ClassDiscard},
		Body: classify.FirstMatch(
			classify.BodyContains("already processed", classify.ClassDuplicate),
			nil,
			classify.BodyContains("candidate has not completed", classify.ClassDiscard),
		),
	}
	cases := []struct {
		name   string
		resp   *http.Response
		body   string
		class  classify.Class
		status int
	}{
		{"ok", response(200), `{"ok":true}`, classify.ClassOK, 0},
		{"status override duplicate", response(409), "", classify.ClassDuplicate, 409},
		{"status override discard", response(422), "", classify.ClassDiscard, 422},
		{"body says duplicate on a 500", response(500), `{"error":"already processed"}`, classify.ClassDuplicate, 500},
		{"body says discard on a 400", response(400), `candidate has not completed the assessment`, classify.ClassDiscard, 400},
		{"body says duplicate on a 200", response(200), `already processed`, classify.ClassDuplicate, 200},
		{"plain 503", response(503), "down", classify.ClassEphemeral, 503},
		{"plain 400", response(400), "bad", classify.ClassPermanent, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := rules.Classify(tc.resp, []byte(tc.body))
			assert.Equal(t, tc.class, classify.Of(err))
			assert.Equal(t, tc.status, classify.Status(err))
			if err != nil {
				var ce *classify.Error
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tc.body, ce.Body)
			}
		})
	}
}

func TestHTTPRulesRetryAfter(t *testing.T) {
	var rules classify.HTTPRules
	err := rules.Classify(response(429, "Retry-After", "30"), nil)
	d, ok := classify.RetryAfter(err)
	assert.True(t, ok)
	assert.Equal(t, 30*time.Second, d)

	date := time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)
	err = rules.Classify(response(503, "Retry-After", date), nil)
	d, ok = classify.RetryAfter(err)
	assert.True(t, ok)
	assert.InDelta(t, float64(2*time.Minute), float64(d), float64(2*time.Second))

	err = rules.Classify(response(503, "Retry-After", "garbage"), nil)
	_, ok = classify.RetryAfter(err)
	assert.False(t, ok)
	assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
}

func TestHTTPRulesBodySnippetIsBounded(t *testing.T) {
	body := strings.Repeat("é", classify.MaxBodySnippet) // 2 bytes per rune
	err := classify.HTTPRules{}.Classify(response(400), []byte(body))
	var ce *classify.Error
	require.ErrorAs(t, err, &ce)
	assert.LessOrEqual(t, len(ce.Body), classify.MaxBodySnippet)
	assert.True(t, utf8.ValidString(ce.Body))
	assert.Less(t, len(ce.Error()), 400, "the message quotes only a short prefix")
}

func TestHTTPRulesBodyLimit(t *testing.T) {
	assert.Equal(t, classify.DefaultMaxBody, classify.HTTPRules{}.BodyLimit())
	assert.Equal(t, 10, classify.HTTPRules{MaxBody: 10}.BodyLimit())
}
