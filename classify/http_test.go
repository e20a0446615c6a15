package classify_test

import (
	"fmt"
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
		{"body saying duplicate cannot deliver a 500", response(500), `{"error":"already processed"}`, classify.ClassEphemeral, 500},
		{"body says discard on a 500", response(500), `candidate has not completed the assessment`, classify.ClassDiscard, 500},
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

// TestBodyRuleCannotDeliverAnUnprocessedStatus: a body rule in Body decides
// any class for a status that says the partner processed the request (2xx,
// 4xx), but it cannot mark delivered (OK, Duplicate) a 408, 429 or 5xx: an
// error page that contains the rule's words must be retried, not marked
// delivered. The same rule scoped to the status in BodyByStatus can.
func TestBodyRuleCannotDeliverAnUnprocessedStatus(t *testing.T) {
	const page = "<html><body><h1>503 Service Unavailable</h1><p>a node that already exists is restarting</p></body></html>"
	statuses := []int{200, 201, 400, 404, 408, 409, 422, 429, 500, 502, 503}
	unprocessed := map[int]bool{408: true, 429: true, 500: true, 502: true, 503: true}
	classes := []classify.Class{classify.ClassOK, classify.ClassDuplicate, classify.ClassDiscard,
		classify.ClassPermanent, classify.ClassEphemeral}
	for _, status := range statuses {
		for _, class := range classes {
			for _, scoped := range []bool{false, true} {
				name := fmt.Sprintf("%d/%s/scoped=%t", status, class, scoped)
				t.Run(name, func(t *testing.T) {
					rule := classify.BodyContains("already exists", class)
					var rules classify.HTTPRules
					if scoped {
						rules.BodyByStatus = map[int]classify.BodyRule{status: rule}
					} else {
						rules.Body = rule
					}
					want := class
					if !scoped && unprocessed[status] && (class == classify.ClassOK || class == classify.ClassDuplicate) {
						want = classify.DefaultStatusClass(status)
					}
					got := classify.Of(rules.Classify(response(status), []byte(page)))
					assert.Equal(t, want, got)
					if unprocessed[status] && !scoped {
						assert.False(t, got.Delivered(), "an unscoped body rule delivered a %d", status)
					}

					// A body without the words leaves the status to decide.
					got = classify.Of(rules.Classify(response(status), []byte("<html>down</html>")))
					assert.Equal(t, classify.DefaultStatusClass(status), got)
				})
			}
		}
	}
}

func TestBodyRuleScoping(t *testing.T) {
	const body = `{"error":"record already processed"}`
	dup := classify.BodyContains("already processed", classify.ClassDuplicate)
	cases := []struct {
		name   string
		rules  classify.HTTPRules
		status int
		want   classify.Class
	}{
		{"scoped to 500, answered 500", classify.HTTPRules{BodyByStatus: map[int]classify.BodyRule{500: dup}}, 500, classify.ClassDuplicate},
		{"scoped to 500, answered 503", classify.HTTPRules{BodyByStatus: map[int]classify.BodyRule{500: dup}}, 503, classify.ClassEphemeral},
		{"scoped to 500, answered 200", classify.HTTPRules{BodyByStatus: map[int]classify.BodyRule{500: dup}}, 200, classify.ClassOK},
		{"scoped rule runs before Body", classify.HTTPRules{
			Body:         classify.BodyContains("already processed", classify.ClassDiscard),
			BodyByStatus: map[int]classify.BodyRule{500: dup},
		}, 500, classify.ClassDuplicate},
		{"Body decides when the scoped rule does not", classify.HTTPRules{
			Body:         classify.BodyContains("record", classify.ClassDiscard),
			BodyByStatus: map[int]classify.BodyRule{500: classify.BodyContains("nothing like it", classify.ClassOK)},
		}, 500, classify.ClassDiscard},
		{"nil scoped rule is skipped", classify.HTTPRules{BodyByStatus: map[int]classify.BodyRule{500: nil}}, 500, classify.ClassEphemeral},
		{"a FirstMatch in Body cannot deliver a 503", classify.HTTPRules{Body: classify.FirstMatch(nil, dup)}, 503, classify.ClassEphemeral},
		{"a hand-written Body rule cannot deliver a 503 either", classify.HTTPRules{
			Body: func(status int, body []byte) (classify.Class, bool) {
				return classify.ClassOK, status == 503
			},
		}, 503, classify.ClassEphemeral},
		{"a status override may deliver a 503", classify.HTTPRules{Statuses: map[int]classify.Class{503: classify.ClassDuplicate}}, 503, classify.ClassDuplicate},
		{"status overridden to Ephemeral on a 4xx: Body may deliver", classify.HTTPRules{
			Statuses: map[int]classify.Class{401: classify.ClassEphemeral}, Body: dup,
		}, 401, classify.ClassDuplicate},
		{"425 Too Early is not processed", classify.HTTPRules{Body: dup}, 425, classify.ClassEphemeral},
		{"unfollowed 302 is not processed", classify.HTTPRules{Body: dup}, 302, classify.ClassPermanent},
		{"status 600 is not processed", classify.HTTPRules{Body: dup}, 600, classify.ClassPermanent},
		{"Body may still demote a 200", classify.HTTPRules{Body: classify.BodyContains("record", classify.ClassEphemeral)}, 200, classify.ClassEphemeral},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rules.Classify(response(tc.status), []byte(body))
			assert.Equal(t, tc.want, classify.Of(err))
			if err != nil {
				assert.Equal(t, tc.status, classify.Status(err))
			}
		})
	}
}

func TestHTTPRulesHasBodyRule(t *testing.T) {
	rule := classify.BodyContains("x", classify.ClassDiscard)
	assert.False(t, classify.HTTPRules{}.HasBodyRule(500))
	assert.True(t, classify.HTTPRules{Body: rule}.HasBodyRule(200))
	scoped := classify.HTTPRules{BodyByStatus: map[int]classify.BodyRule{500: rule, 502: nil}}
	assert.True(t, scoped.HasBodyRule(500))
	assert.False(t, scoped.HasBodyRule(502))
	assert.False(t, scoped.HasBodyRule(200))
}
