package webhook_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery/webhook"
)

func mustKey(t testing.TB, s string) webhook.Key {
	t.Helper()
	k, err := webhook.ParseKey(s)
	require.NoError(t, err)
	return k
}

func TestNewSignerRefusesBadConfigs(t *testing.T) {
	secret := mustKey(t, "whsec_"+b64(32, 'a'))
	_, pub := webhook.NewKeyPair()
	for _, tc := range []struct {
		name string
		cfg  webhook.SignerConfig
		want string
	}{
		{"no keys", webhook.SignerConfig{}, "SignerConfig.Keys is empty"},
		{"zero key", webhook.SignerConfig{Keys: []webhook.Key{secret, {}}}, "Keys[1] is the zero Key"},
		{"public key", webhook.SignerConfig{Keys: []webhook.Key{mustKey(t, pub)}}, "Keys[0] is a whpk_ public key, which can only verify"},
		{"duplicate", webhook.SignerConfig{Keys: []webhook.Key{secret, mustKey(t, "whsec_"+b64(32, 'a'))}}, "Keys[1] is the same key as Keys[0]"},
		{"bad id header", webhook.SignerConfig{Keys: []webhook.Key{secret}, IDHeader: "Idem Key"}, `IDHeader "Idem Key" is not a valid header name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := webhook.NewSigner(tc.cfg)
			require.ErrorContains(t, err, tc.want)
			assert.Nil(t, s)
		})
	}
}

func newSigner(t testing.TB, now time.Time, keys ...string) *webhook.Signer {
	t.Helper()
	cfg := webhook.SignerConfig{Now: func() time.Time { return now }}
	for _, k := range keys {
		cfg.Keys = append(cfg.Keys, mustKey(t, k))
	}
	s, err := webhook.NewSigner(cfg)
	require.NoError(t, err)
	return s
}

func TestSignRequest(t *testing.T) {
	secret := "whsec_" + b64(32, 'a')
	now := time.Unix(1_700_000_000, 0)
	s := newSigner(t, now, secret)
	v := newVerifier(t, now, secret)

	t.Run("id from Idempotency-Key, body replaced by the bytes signed", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, "http://partner.test/hooks", strings.NewReader(`{"a":1}`))
		require.NoError(t, err)
		req.Header.Set("Idempotency-Key", "order-1")
		require.NoError(t, s.SignRequest(req))
		assert.Equal(t, "order-1", req.Header.Get("webhook-id"))
		assert.Equal(t, "1700000000", req.Header.Get("webhook-timestamp"))
		body, err := io.ReadAll(req.Body)
		require.NoError(t, err)
		assert.Equal(t, `{"a":1}`, string(body))
		assert.EqualValues(t, 7, req.ContentLength)
		require.NoError(t, v.Verify(req.Header, body))
		again, err := req.GetBody()
		require.NoError(t, err)
		replay, _ := io.ReadAll(again)
		assert.Equal(t, body, replay)
	})
	t.Run("an explicit webhook-id wins", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, "http://partner.test/hooks", strings.NewReader("x"))
		req.Header.Set("Idempotency-Key", "order-1")
		req.Header.Set("webhook-id", "msg_explicit")
		require.NoError(t, s.SignRequest(req))
		assert.Equal(t, "msg_explicit", req.Header.Get("webhook-id"))
		require.NoError(t, v.Verify(req.Header, []byte("x")))
	})
	t.Run("no body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, "http://partner.test/hooks", nil)
		req.Header.Set("Idempotency-Key", "order-2")
		require.NoError(t, s.SignRequest(req))
		require.NoError(t, v.Verify(req.Header, nil))
	})
	t.Run("a configured id header", func(t *testing.T) {
		s, err := webhook.NewSigner(webhook.SignerConfig{Keys: []webhook.Key{mustKey(t, secret)}, IDHeader: "x-request-key"})
		require.NoError(t, err)
		req, _ := http.NewRequest(http.MethodPost, "http://partner.test/hooks", nil)
		req.Header.Set("X-Request-Key", "k-1")
		require.NoError(t, s.SignRequest(req))
		assert.Equal(t, "k-1", req.Header.Get("webhook-id"))
	})
	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			build func() *http.Request
			is    error
			want  string
		}{
			{"no id", func() *http.Request {
				r, _ := http.NewRequest(http.MethodPost, "http://p.test/", nil)
				return r
			}, webhook.ErrInvalidID, "neither a webhook-id nor an Idempotency-Key header"},
			{"id with a full stop", func() *http.Request {
				r, _ := http.NewRequest(http.MethodPost, "http://p.test/", nil)
				r.Header.Set("Idempotency-Key", "order.1")
				return r
			}, webhook.ErrInvalidID, "contains a full stop"},
			{"body without GetBody", func() *http.Request {
				r, _ := http.NewRequest(http.MethodPost, "http://p.test/", io.NopCloser(strings.NewReader("x")))
				r.Header.Set("Idempotency-Key", "k")
				return r
			}, webhook.ErrBodyNotReplayable, "GetBody is nil"},
			{"GetBody fails", func() *http.Request {
				r, _ := http.NewRequest(http.MethodPost, "http://p.test/", bytes.NewReader([]byte("x")))
				r.Header.Set("Idempotency-Key", "k")
				r.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("gone") }
				return r
			}, nil, "re-read request body: gone"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := tc.build()
				err := s.SignRequest(req)
				require.ErrorContains(t, err, tc.want)
				if tc.is != nil {
					require.ErrorIs(t, err, tc.is)
				}
				assert.Empty(t, req.Header.Get("webhook-signature"), "a refused request is left unsigned")
			})
		}
	})
}

func TestSignRefusesInvalidIDs(t *testing.T) {
	s := newSigner(t, time.Now(), "whsec_"+b64(32, 'a'))
	for _, id := range []string{"", "a.b", "a b", "a\nb", "é", strings.Repeat("x", 257)} {
		_, err := s.Sign(id, time.Now(), nil)
		require.ErrorIs(t, err, webhook.ErrInvalidID, "%q", id)
	}
	_, err := s.Sign(strings.Repeat("x", 256), time.Now(), nil)
	require.NoError(t, err)
}

// A zero or nil Signer or Verifier (not built with its constructor) refuses
// with an error instead of panicking or signing with nothing.
func TestZeroSignerAndVerifierRefuse(t *testing.T) {
	for _, s := range []*webhook.Signer{nil, {}} {
		_, err := s.Sign("m", time.Now(), nil)
		require.ErrorContains(t, err, "build it with NewSigner")
		req, _ := http.NewRequest(http.MethodPost, "http://p.test/", nil)
		req.Header.Set("Idempotency-Key", "k")
		require.ErrorContains(t, s.SignRequest(req), "build it with NewSigner")
	}
	for _, v := range []*webhook.Verifier{nil, {}} {
		require.ErrorContains(t, v.VerifyParts("m", "1", "v1,x", nil), "build it with NewVerifier")
		_, err := v.VerifyRequest(&http.Request{Header: http.Header{}})
		require.ErrorContains(t, err, "build it with NewVerifier")
	}
}
