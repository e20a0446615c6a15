package webhook_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/webhook"
)

// stdlibReceiver checks a webhook as the specification describes it, with
// the standard library only: the three headers, a timestamp within five
// minutes either way, and any v1 entry equal (in constant time) to
// HMAC-SHA256 of "id.timestamp.body" under one of the whsec_ secrets, or
// any v1a entry that Ed25519-verifies under one of the whpk_ keys.
func stdlibReceiver(secrets, publicKeys []string, h http.Header, body []byte) bool {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return false
	}
	content := []byte(id + "." + ts + "." + string(body))
	for _, entry := range strings.Split(sigs, " ") {
		version, value, ok := strings.Cut(entry, ",")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			continue
		}
		switch version {
		case "v1":
			for _, s := range secrets {
				key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
				if err != nil {
					continue
				}
				m := hmac.New(sha256.New, key)
				m.Write(content)
				if hmac.Equal(m.Sum(nil), got) {
					return true
				}
			}
		case "v1a":
			for _, p := range publicKeys {
				pub, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(p, "whpk_"))
				if err == nil && len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, content, got) {
					return true
				}
			}
		}
	}
	return false
}

// verdict is what the two receivers said about one request.
type verdict struct {
	id       string
	stdlib   bool
	verifier error
}

// receiver is an httptest server that judges every request with both the
// stdlib receiver and the package's Verifier, and answers 204 when both
// accept, 401 otherwise.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	verdicts []verdict
}

func startReceiver(t *testing.T, secrets, publicKeys []string) *receiver {
	t.Helper()
	var keys []webhook.Key
	for _, k := range append(append([]string(nil), secrets...), publicKeys...) {
		keys = append(keys, mustKey(t, k))
	}
	v, err := webhook.NewVerifier(webhook.VerifierConfig{Keys: keys})
	require.NoError(t, err)
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, verr := v.VerifyRequest(r)
		if body == nil {
			body, _ = io.ReadAll(r.Body) // restored by VerifyRequest
		}
		ok := stdlibReceiver(secrets, publicKeys, r.Header, body)
		rc.mu.Lock()
		rc.verdicts = append(rc.verdicts, verdict{id: r.Header.Get("webhook-id"), stdlib: ok, verifier: verr})
		rc.mu.Unlock()
		if ok && verr == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) last(t *testing.T) verdict {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	require.NotEmpty(t, rc.verdicts)
	return rc.verdicts[len(rc.verdicts)-1]
}

// tamper is a man in the middle: it changes a request after it was signed.
type tamper struct {
	base   http.RoundTripper
	mutate func(r *http.Request)
}

func (tm tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	if tm.mutate != nil {
		r = r.Clone(r.Context())
		tm.mutate(r)
	}
	return tm.base.RoundTrip(r)
}

func (tm tamper) CloseIdleConnections() {
	tm.base.(interface{ CloseIdleConnections() }).CloseIdleConnections()
}

// sender is what a user writes: an HTTPDeliverer on a client whose
// transport signs (here with a man in the middle below the signing).
func sender(t *testing.T, url string, signer *webhook.Signer, mutate func(*http.Request)) delivery.Deliverer {
	t.Helper()
	client, err := httpclient.New(httpclient.Config{})
	require.NoError(t, err)
	client.Transport = &webhook.Transport{Base: tamper{base: client.Transport, mutate: mutate}, Signer: signer}
	t.Cleanup(client.CloseIdleConnections)
	d, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(url, "application/json")})
	require.NoError(t, err)
	return d
}

func TestStdlibReceiverAndVerifierAcceptWhatTheDelivererSends(t *testing.T) {
	secret := webhook.NewSecret()
	sk, pk := webhook.NewKeyPair()
	for _, tc := range []struct {
		name    string
		signing []string
	}{{"v1", []string{secret}}, {"v1a", []string{sk}}, {"both", []string{secret, sk}}} {
		t.Run(tc.name, func(t *testing.T) {
			rc := startReceiver(t, []string{secret}, []string{pk})
			signer := newSignerAt(t, nil, tc.signing...)
			send := sender(t, rc.srv.URL+"/hooks", signer, nil)
			err := send.Deliver(context.Background(), &delivery.Message{ID: "order-1", Payload: []byte(`{"type":"order.paid","data":{"id":1}}`)})
			require.NoError(t, err)
			v := rc.last(t)
			assert.Equal(t, "order-1", v.id, "webhook-id is the message's idempotency key")
			assert.True(t, v.stdlib)
			assert.NoError(t, v.verifier)
		})
	}
}

func TestTamperedOrUntrustedWebhooksAreRejectedByBothReceivers(t *testing.T) {
	secret := webhook.NewSecret()
	sk, pk := webhook.NewKeyPair()
	for _, tc := range []struct {
		name    string
		signing []string
		now     func() time.Time
		mutate  func(r *http.Request)
		is      error
	}{
		{name: "body changed by one byte", mutate: func(r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			b[len(b)-2] ^= 1
			r.Body = io.NopCloser(strings.NewReader(string(b)))
		}, is: webhook.ErrNoValidSignature},
		{name: "id changed", mutate: func(r *http.Request) { r.Header.Set("webhook-id", "order-2") }, is: webhook.ErrNoValidSignature},
		{name: "timestamp changed", mutate: func(r *http.Request) {
			ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
			r.Header.Set("webhook-timestamp", strconv.FormatInt(ts-1, 10))
		}, is: webhook.ErrNoValidSignature},
		{name: "timestamp too old", now: func() time.Time { return time.Now().Add(-6 * time.Minute) }, is: webhook.ErrTimestampOutsideTolerance},
		{name: "timestamp too far ahead", now: func() time.Time { return time.Now().Add(6 * time.Minute) }, is: webhook.ErrTimestampOutsideTolerance},
		{name: "unknown v1 key", signing: []string{webhook.NewSecret()}, is: webhook.ErrNoValidSignature},
		{name: "unknown v1a key", signing: []string{func() string { k, _ := webhook.NewKeyPair(); return k }()}, is: webhook.ErrNoValidSignature},
		{name: "signature removed", mutate: func(r *http.Request) { r.Header.Del("webhook-signature") }, is: webhook.ErrMissingHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := startReceiver(t, []string{secret}, []string{pk})
			signing := tc.signing
			if signing == nil {
				signing = []string{secret, sk}
			}
			send := sender(t, rc.srv.URL+"/hooks", newSignerAt(t, tc.now, signing...), tc.mutate)
			err := send.Deliver(context.Background(), &delivery.Message{ID: "order-1", Payload: []byte(`{"type":"order.paid"}`)})
			require.Error(t, err)
			assert.Equal(t, http.StatusUnauthorized, classify.Status(err))
			v := rc.last(t)
			assert.False(t, v.stdlib, "the stdlib receiver accepted it")
			assert.ErrorIs(t, v.verifier, tc.is)
		})
	}
}

func newSignerAt(t testing.TB, now func() time.Time, keys ...string) *webhook.Signer {
	t.Helper()
	cfg := webhook.SignerConfig{Now: now}
	for _, k := range keys {
		cfg.Keys = append(cfg.Keys, mustKey(t, k))
	}
	s, err := webhook.NewSigner(cfg)
	require.NoError(t, err)
	return s
}

// A request the Transport cannot sign is not sent, and the deliverer sees
// a Permanent error: sending it again would fail the same way.
func TestTransportRefusesUnsignableRequestsPermanently(t *testing.T) {
	var hits int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	defer srv.Close()
	signer := newSignerAt(t, nil, webhook.NewSecret())
	client := &http.Client{Transport: &webhook.Transport{Signer: signer}}
	defer client.CloseIdleConnections()

	for _, tc := range []struct {
		name  string
		build httpdelivery.RequestBuilder
		cfg   func(*httpdelivery.Config)
		tr    *webhook.Transport
		want  string
	}{
		{name: "body not replayable", build: func(ctx context.Context, m *delivery.Message) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, io.NopCloser(strings.NewReader("x")))
		}, want: "GetBody is nil"},
		{name: "no id", build: httpdelivery.PostTo(srv.URL, "text/plain"), cfg: func(c *httpdelivery.Config) { c.IdempotencyHeader = "-" }, want: "neither a webhook-id nor an Idempotency-Key"},
		{name: "no signer", build: httpdelivery.PostTo(srv.URL, "text/plain"), tr: &webhook.Transport{}, want: "neither Signer nor SignerFor"},
		{name: "no signer for the destination", build: httpdelivery.PostTo(srv.URL, "text/plain"), tr: &webhook.Transport{
			SignerFor: func(r *http.Request) (*webhook.Signer, error) { return nil, nil },
		}, want: "SignerFor returned no signer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := client
			if tc.tr != nil {
				c = &http.Client{Transport: tc.tr}
			}
			cfg := httpdelivery.Config{Client: c, Build: tc.build}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			d, err := httpdelivery.New(cfg)
			require.NoError(t, err)
			err = d.Deliver(context.Background(), &delivery.Message{ID: "m-1", Payload: []byte("x")})
			require.ErrorContains(t, err, tc.want)
			assert.Equal(t, classify.ClassPermanent, classify.Of(err))
		})
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Zero(t, hits, "an unsignable request reached the receiver")
}

// Per-destination secrets: SignerFor picks each destination's signer by
// host, and each destination's receiver accepts only its own.
func TestTransportSignerForPerDestination(t *testing.T) {
	secretA, secretB := webhook.NewSecret(), webhook.NewSecret()
	a := startReceiver(t, []string{secretA}, nil)
	b := startReceiver(t, []string{secretB}, nil)
	signers := map[string]*webhook.Signer{
		strings.TrimPrefix(a.srv.URL, "http://"): newSignerAt(t, nil, secretA),
		strings.TrimPrefix(b.srv.URL, "http://"): newSignerAt(t, nil, secretB),
	}
	client := &http.Client{Transport: &webhook.Transport{SignerFor: func(r *http.Request) (*webhook.Signer, error) {
		return signers[r.URL.Host], nil
	}}}
	defer client.CloseIdleConnections()
	for _, rc := range []*receiver{a, b} {
		d, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(rc.srv.URL, "application/json")})
		require.NoError(t, err)
		require.NoError(t, d.Deliver(context.Background(), &delivery.Message{ID: "m-1", Payload: []byte("{}")}))
		assert.True(t, rc.last(t).stdlib)
	}
}
