package main

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestATSEndToEnd(t *testing.T) {
	const n = 150
	var out bytes.Buffer
	rep, err := run(context.Background(), options{
		results: n, unit: 5 * time.Millisecond, probeEvery: 20 * time.Millisecond, rate: 1000,
		outage: 200 * time.Millisecond, timeout: time.Minute,
	}, &out)
	require.NoError(t, err, out.String())

	want := map[int]int{}
	for i := range n {
		want[fakeCase(i)]++
	}
	assert.Equal(t, n-want[http.StatusUnprocessableEntity]-want[http.StatusPreconditionFailed], rep.delivered)
	assert.Equal(t, want[http.StatusConflict], rep.duplicates, "409: the API already had it")
	assert.Equal(t, map[string]int{
		"invalid record: unknown assessment":         want[http.StatusUnprocessableEntity],
		"candidate has not completed the assessment": want[http.StatusPreconditionFailed],
	}, rep.discarded, "dropped with the reason")
	assert.Zero(t, rep.dead)
	assert.Zero(t, rep.unsettled)
	assert.GreaterOrEqual(t, rep.retried, want[http.StatusInternalServerError], "500s retried")
	assert.Equal(t, 1, rep.tokens, "one token for every request")
	assert.LessOrEqual(t, rep.peakConns, 25)
	assert.Contains(t, out.String(), "candidate has not completed the assessment")
}

func TestResultValidation(t *testing.T) {
	_, err := Result{AssessmentID: "a"}.message()
	assert.Error(t, err)
	m, err := Result{CandidateID: "c", AssessmentID: "a", Score: 7}.message()
	require.NoError(t, err)
	assert.Equal(t, "c/a", m.IdempotencyKey)
	assert.Equal(t, "c", m.Key)
	assert.JSONEq(t, `{"candidate_id":"c","assessment_id":"a","score":7,"completed_at":"0001-01-01T00:00:00Z"}`, string(m.Payload))
}

func TestATSFlags(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-api", "https://x.example"}, &stderr)
	assert.Error(t, err)
	assert.Contains(t, stderr.String(), "-token-url")
	o, err := parseFlags(nil, &stderr)
	require.NoError(t, err)
	assert.Equal(t, 200, o.results)
}
