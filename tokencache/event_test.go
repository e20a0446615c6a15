package tokencache_test

import (
	"bytes"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/tokencache"
)

// recorder collects a cache's events for assertions.
type recorder struct {
	mu     sync.Mutex
	events []tokencache.Event
}

func (r *recorder) record(e tokencache.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) count(kind tokencache.EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func TestEventLogValue(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("token", "event", tokencache.Event{Kind: tokencache.EventStoreError, Key: "partner", Op: "save", Err: errors.New("boom")})
	require.Contains(t, buf.String(), "event.kind=store_error event.key=partner event.op=save event.error=boom")

	require.Equal(t, "minted", tokencache.EventMinted.String())
	require.Equal(t, "unknown", tokencache.EventKind(0).String())
	require.Equal(t, "unknown", tokencache.EventKind(200).String())
}
