package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/webhook"
	"github.com/outbound-go/outbound/retry"
)

// Rotation: the sender signs with the new key next to the old one while
// receivers move over, so a receiver on either key accepts; once the old
// key is retired, only a receiver on the new key does.
func TestRotationOverlapThenRetirement(t *testing.T) {
	oldSK, oldPK := webhook.NewKeyPair()
	newSK, newPK := webhook.NewKeyPair()
	oldSecret, newSecret := webhook.NewSecret(), webhook.NewSecret()
	for _, tc := range []struct {
		name                     string
		oldSign, newSign         string
		oldReceiver, newReceiver func(t *testing.T) *receiver
	}{
		{
			name: "v1 to v1", oldSign: oldSecret, newSign: newSecret,
			oldReceiver: func(t *testing.T) *receiver { return startReceiver(t, []string{oldSecret}, nil) },
			newReceiver: func(t *testing.T) *receiver { return startReceiver(t, []string{newSecret}, nil) },
		},
		{
			name: "v1a to v1a", oldSign: oldSK, newSign: newSK,
			oldReceiver: func(t *testing.T) *receiver { return startReceiver(t, nil, []string{oldPK}) },
			newReceiver: func(t *testing.T) *receiver { return startReceiver(t, nil, []string{newPK}) },
		},
		{
			name: "v1 to v1a", oldSign: oldSecret, newSign: newSK,
			oldReceiver: func(t *testing.T) *receiver { return startReceiver(t, []string{oldSecret}, nil) },
			newReceiver: func(t *testing.T) *receiver { return startReceiver(t, nil, []string{newPK}) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldRC, newRC := tc.oldReceiver(t), tc.newReceiver(t)
			deliver := func(signer *webhook.Signer, rc *receiver) verdict {
				err := sender(t, rc.srv.URL, signer, nil).Deliver(context.Background(), &delivery.Message{ID: "evt-1", Payload: []byte(`{"n":1}`)})
				v := rc.last(t)
				assert.Equal(t, err == nil, v.stdlib && v.verifier == nil)
				return v
			}

			before := newSignerAt(t, nil, tc.oldSign)
			assert.True(t, deliver(before, oldRC).stdlib, "before: the old receiver accepts")
			assert.False(t, deliver(before, newRC).stdlib, "before: the new receiver does not yet")

			overlap := newSignerAt(t, nil, tc.newSign, tc.oldSign)
			for name, rc := range map[string]*receiver{"old": oldRC, "new": newRC} {
				v := deliver(overlap, rc)
				assert.True(t, v.stdlib, "overlap: the %s stdlib receiver rejects", name)
				assert.NoError(t, v.verifier, "overlap: the %s Verifier rejects", name)
			}

			after := newSignerAt(t, nil, tc.newSign)
			v := deliver(after, oldRC)
			assert.False(t, v.stdlib, "after retirement: the old stdlib receiver still accepts")
			assert.ErrorIs(t, v.verifier, webhook.ErrNoValidSignature)
			v = deliver(after, newRC)
			assert.True(t, v.stdlib)
			assert.NoError(t, v.verifier)
		})
	}
}

// A record retried after a 503 carries the same webhook-id and a fresh
// timestamp and signature on its second attempt, and both attempts verify.
func TestRetryKeepsTheIDAndSignsAfresh(t *testing.T) {
	secret := webhook.NewSecret()
	type seen struct{ id, ts, sig string }
	var (
		mu       sync.Mutex
		attempts []seen
	)
	v := newVerifier(t, time.Now(), secret)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := v.VerifyRequest(r)
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, seen{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")})
		switch {
		case err != nil:
			t.Errorf("attempt %d does not verify: %v", len(attempts), err)
			w.WriteHeader(http.StatusUnauthorized)
		case len(attempts) == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()

	// The clock moves on by a second at each signing, as it would between
	// attempts a backoff apart.
	start := time.Now()
	var tick atomic.Int64
	signer := newSignerAt(t, func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Second) }, secret)
	send := delivery.Chain(sender(t, srv.URL, signer, nil),
		delivery.WithRetry(retry.Policy{Backoff: retry.Constant(time.Millisecond), MaxAttempts: 3}))

	m := &delivery.Message{ID: "rec-7", IdempotencyKey: "evt-42", Payload: []byte(`{"type":"order.paid"}`)}
	require.NoError(t, send.Deliver(context.Background(), m))

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, attempts, 2)
	first, second := attempts[0], attempts[1]
	assert.Equal(t, "evt-42", first.id, "webhook-id is the idempotency key")
	assert.Equal(t, first.id, second.id, "a retry keeps the webhook-id")
	assert.Less(t, first.ts, second.ts, "a retry has a fresh timestamp")
	assert.NotEqual(t, first.sig, second.sig, "a retry has a fresh signature")
	assert.True(t, strings.HasPrefix(second.sig, "v1,"))
}
