package webhook_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery/webhook"
)

func newVerifier(t testing.TB, now time.Time, keys ...string) *webhook.Verifier {
	t.Helper()
	cfg := webhook.VerifierConfig{Now: func() time.Time { return now }}
	for _, k := range keys {
		cfg.Keys = append(cfg.Keys, mustKey(t, k))
	}
	v, err := webhook.NewVerifier(cfg)
	require.NoError(t, err)
	return v
}

func TestNewVerifierRefusesBadConfigs(t *testing.T) {
	k := mustKey(t, "whsec_"+b64(32, 'a'))
	for _, tc := range []struct {
		name string
		cfg  webhook.VerifierConfig
		want string
	}{
		{"no keys", webhook.VerifierConfig{}, "VerifierConfig.Keys is empty"},
		{"zero key", webhook.VerifierConfig{Keys: []webhook.Key{{}}}, "Keys[0] is the zero Key"},
		{"duplicate", webhook.VerifierConfig{Keys: []webhook.Key{k, k}}, "Keys[1] is the same key as Keys[0]"},
		{"negative tolerance", webhook.VerifierConfig{Keys: []webhook.Key{k}, Tolerance: -time.Second}, "Tolerance must not be negative"},
		{"negative max body", webhook.VerifierConfig{Keys: []webhook.Key{k}, MaxBody: -1}, "MaxBody must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := webhook.NewVerifier(tc.cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	secret := "whsec_" + b64(32, 'a')
	sk, pk := webhook.NewKeyPair()
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"type":"invoice.paid"}`)
	s := newSigner(t, now, secret, sk)
	sig, err := s.Sign("msg_1", now, body)
	require.NoError(t, err)
	hmacOnly, edOnly, _ := strings.Cut(sig, " ")
	v := newVerifier(t, now, secret, pk)
	require.NoError(t, v.VerifyParts("msg_1", "1700000000", sig, body))
	require.NoError(t, v.VerifyParts("msg_1", "1700000000", hmacOnly, body))
	require.NoError(t, v.VerifyParts("msg_1", "1700000000", edOnly, body))
	require.NoError(t, v.VerifyParts("msg_1", "1700000000", "v2,abc  v1,"+b64(32, 0)+" "+edOnly, body), "unknown and wrong entries are skipped")
	// The tolerance holds in both directions, up to and including its bound.
	for _, at := range []time.Time{now.Add(-5 * time.Minute), now.Add(5 * time.Minute)} {
		require.NoError(t, newVerifier(t, at, secret).VerifyParts("msg_1", "1700000000", sig, body))
	}

	flipped := bytes.Clone(body)
	flipped[3] ^= 1
	for _, tc := range []struct {
		name        string
		id, ts, sig string
		body        []byte
		v           *webhook.Verifier
		is          error
		want        string
	}{
		{"body changed by one byte", "msg_1", "1700000000", sig, flipped, v, webhook.ErrNoValidSignature, "none of the 2 listed signatures verifies"},
		{"body with a byte more", "msg_1", "1700000000", sig, append(bytes.Clone(body), ' '), v, webhook.ErrNoValidSignature, ""},
		{"id changed", "msg_2", "1700000000", sig, body, v, webhook.ErrNoValidSignature, ""},
		{"timestamp changed", "msg_1", "1700000001", sig, body, v, webhook.ErrNoValidSignature, ""},
		{"unknown key", "msg_1", "1700000000", sig, body, newVerifier(t, now, "whsec_"+b64(32, 'b')), webhook.ErrNoValidSignature, ""},
		{"unknown public key", "msg_1", "1700000000", edOnly, body, newVerifier(t, now, func() string { _, p := webhook.NewKeyPair(); return p }()), webhook.ErrNoValidSignature, ""},
		{"v1a signature given as v1", "msg_1", "1700000000", "v1," + strings.TrimPrefix(edOnly, "v1a,"), body, v, webhook.ErrMalformedHeader, "no well-formed v1 or v1a"},
		{"too old", "msg_1", "1700000000", sig, body, newVerifier(t, now.Add(5*time.Minute+time.Second), secret), webhook.ErrTimestampOutsideTolerance, "is 5m1s old, more than the 5m0s tolerance"},
		{"too new", "msg_1", "1700000000", sig, body, newVerifier(t, now.Add(-5*time.Minute-time.Second), secret), webhook.ErrTimestampOutsideTolerance, "is 5m1s in the future"},
		{"no id", "", "1700000000", sig, body, v, webhook.ErrMissingHeader, "webhook-id"},
		{"no timestamp", "msg_1", "", sig, body, v, webhook.ErrMissingHeader, "webhook-timestamp"},
		{"no signature", "msg_1", "1700000000", "", body, v, webhook.ErrMissingHeader, "webhook-signature"},
		{"only spaces", "msg_1", "1700000000", "   ", body, v, webhook.ErrMissingHeader, "webhook-signature"},
		{"id with a full stop", "msg.1", "1700000000", sig, body, v, webhook.ErrMalformedHeader, "full stop"},
		{"signed timestamp", "msg_1", "+1700000000", sig, body, v, webhook.ErrMalformedHeader, "not a decimal number"},
		{"fractional timestamp", "msg_1", "1700000000.5", sig, body, v, webhook.ErrMalformedHeader, "not a decimal number"},
		{"huge timestamp", "msg_1", strings.Repeat("9", 30), sig, body, v, webhook.ErrMalformedHeader, "too long"},
		{"no comma", "msg_1", "1700000000", "v1" + strings.TrimPrefix(hmacOnly, "v1,"), body, v, webhook.ErrMalformedHeader, ""},
		{"truncated signature", "msg_1", "1700000000", hmacOnly[:20], body, v, webhook.ErrMalformedHeader, ""},
		{"too many entries", "msg_1", "1700000000", strings.Repeat("v2,x ", 33) + hmacOnly, body, v, webhook.ErrMalformedHeader, "more than 32"},
		{"too long", "msg_1", "1700000000", strings.Repeat(" ", 9000) + hmacOnly, body, v, webhook.ErrMalformedHeader, "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.VerifyParts(tc.id, tc.ts, tc.sig, tc.body)
			require.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "webhook: "), err.Error())
			assert.NotContains(t, err.Error(), b64(32, 'a')[:8])
		})
	}
}

func TestVerifyRequestRestoresTheBody(t *testing.T) {
	secret := "whsec_" + b64(32, 'a')
	now := time.Unix(1_700_000_000, 0)
	s := newSigner(t, now, secret)
	v := newVerifier(t, now, secret)
	sig, err := s.Sign("msg_1", now, []byte("hello"))
	require.NoError(t, err)

	r := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader("hello"))
	r.Header.Set("webhook-id", "msg_1")
	r.Header.Set("webhook-timestamp", "1700000000")
	r.Header.Set("webhook-signature", sig)
	body, err := v.VerifyRequest(r)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(body))
	again, _ := io.ReadAll(r.Body)
	assert.Equal(t, "hello", string(again))

	small, err := webhook.NewVerifier(webhook.VerifierConfig{Keys: []webhook.Key{mustKey(t, secret)}, MaxBody: 3})
	require.NoError(t, err)
	r = httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader("hello"))
	_, err = small.VerifyRequest(r)
	require.ErrorIs(t, err, webhook.ErrBodyTooLarge)
	rest, _ := io.ReadAll(r.Body)
	assert.Equal(t, "hello", string(rest), "a refused body is still whole for the handler")
}
