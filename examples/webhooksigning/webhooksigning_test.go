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

func TestRunEndToEnd(t *testing.T) {
	var out bytes.Buffer
	s, err := run(context.Background(), &out, options{events: 5, retryAfter: 1100 * time.Millisecond})
	require.NoError(t, err, out.String())
	assert.Equal(t, 5, s.enqueued)
	assert.Equal(t, 5, s.processed)
	assert.Equal(t, 6, s.attempts, "one event was retried once")
	require.Len(t, s.retriedAttempts, 2)
	first, second := s.retriedAttempts[0], s.retriedAttempts[1]
	assert.Equal(t, s.retried, first.id)
	assert.Equal(t, first.id, second.id)
	assert.NotEqual(t, first.timestamp, second.timestamp)
	assert.NotEqual(t, first.signature, second.signature)
	assert.Equal(t, http.StatusUnauthorized, s.forgedStatus)
	assert.Contains(t, s.forgedReason, "no valid signature")
	assert.Equal(t, http.StatusOK, s.replayStatus)
	assert.False(t, s.replayProcessed)
	assert.Contains(t, out.String(), "OK: every event processed once")
}
