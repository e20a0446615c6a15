package deliverytest_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/webhook"
	"github.com/outbound-go/outbound/retry"
)

func webhookKey(t *testing.T, s string) webhook.Key {
	t.Helper()
	k, err := webhook.ParseKey(s)
	require.NoError(t, err)
	return k
}

// signingClient is the partner's client with a transport that signs with
// secret, its clock fixed at now when now is not zero.
func signingClient(t *testing.T, p *deliverytest.Partner, secret string, now time.Time) *http.Client {
	t.Helper()
	cfg := webhook.SignerConfig{Keys: []webhook.Key{webhookKey(t, secret)}}
	if !now.IsZero() {
		cfg.Now = func() time.Time { return now }
	}
	signer, err := webhook.NewSigner(cfg)
	require.NoError(t, err)
	client, err := p.NewClient(httpclient.Config{})
	require.NoError(t, err)
	client.Transport = &webhook.Transport{Base: client.Transport, Signer: signer}
	return client
}

func TestPartnerWebhooksRequiresValidSignatures(t *testing.T) {
	both(t, func(t *testing.T, mem bool) {
		secret := webhook.NewSecret()
		verifier, err := webhook.NewVerifier(webhook.VerifierConfig{Keys: []webhook.Key{webhookKey(t, secret)}})
		require.NoError(t, err)
		p := deliverytest.StartPartner(t, deliverytest.PartnerConfig{InMemory: mem, Webhooks: verifier})

		require.NoError(t, sendTo(t, p, signingClient(t, p, secret, time.Time{}), "/hooks")("signed"))
		err = sendTo(t, p, nil, "/hooks")("unsigned")
		require.Error(t, err)
		err = sendTo(t, p, signingClient(t, p, webhook.NewSecret(), time.Time{}), "/hooks")("wrong-key")
		require.Error(t, err)
		err = sendTo(t, p, signingClient(t, p, secret, time.Now().Add(-10*time.Minute)), "/hooks")("stale")
		require.Error(t, err)

		assert.Equal(t, []string{"signed"}, p.DeliveredKeys())
		byKey := map[string]deliverytest.Request{}
		for _, r := range p.Requests() {
			byKey[r.IdempotencyKey] = r
		}
		assert.Empty(t, byKey["signed"].SignatureError)
		for key, want := range map[string]string{
			"unsigned":  "missing header",
			"wrong-key": "no valid signature",
			"stale":     "timestamp outside tolerance",
		} {
			r := byKey[key]
			assert.Equal(t, http.StatusUnauthorized, r.Status, key)
			assert.Contains(t, r.SignatureError, want, key)
			assert.False(t, r.Processed, key)
		}
		st := p.Stats()
		assert.Equal(t, 3, st.InvalidSignatures)
		assert.Zero(t, st.Replays)
		assert.Zero(t, st.Unauthorized, "a bad signature is not a bad token")
	})
}

// A captured webhook the partner processed, sent again unchanged, is a
// replay. A retry of a webhook the partner failed is not, even when it
// carries the very same signature (same second, same body).
func TestPartnerWebhooksRefusesReplaysNotRetries(t *testing.T) {
	both(t, func(t *testing.T, mem bool) {
		secret := webhook.NewSecret()
		verifier, err := webhook.NewVerifier(webhook.VerifierConfig{Keys: []webhook.Key{webhookKey(t, secret)}})
		require.NoError(t, err)
		p := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
			InMemory: mem, Webhooks: verifier,
			Rules: []deliverytest.Rule{{Key: "flaky", Responses: deliverytest.Statuses(503)}},
		})
		client := signingClient(t, p, secret, time.Now()) // a frozen clock: every attempt signs alike
		d, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(p.URL+"/hooks", "application/json")})
		require.NoError(t, err)
		send := delivery.Chain(d, delivery.WithRetry(retry.Policy{Backoff: retry.Constant(time.Millisecond), MaxAttempts: 2}))
		require.NoError(t, send.Deliver(context.Background(), &delivery.Message{ID: "flaky", Payload: []byte(`{"n":1}`)}))
		reqs := p.RequestsFor("flaky")
		require.Len(t, reqs, 2)
		assert.Equal(t, reqs[0].Header.Get("webhook-signature"), reqs[1].Header.Get("webhook-signature"))
		assert.Equal(t, http.StatusOK, reqs[1].Status, "a retry after a failure is not a replay")

		// An attacker resends the processed request as captured.
		captured := reqs[1]
		replay, err := http.NewRequest(http.MethodPost, p.URL+"/hooks", bytes.NewReader(captured.Body))
		require.NoError(t, err)
		for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature", "Idempotency-Key"} {
			replay.Header.Set(h, captured.Header.Get(h))
		}
		resp, err := p.Client().Do(replay)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		last := p.Requests()[len(p.Requests())-1]
		assert.Contains(t, last.SignatureError, "replay")
		assert.False(t, last.Processed)
		assert.Equal(t, 1, p.Stats().Replays)
		assert.Equal(t, 1, p.Processed("flaky"))
	})
}
