package webhook_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery/webhook"
)

// The vectors below follow the specification's text: the signed content is
// "msg_id.timestamp.payload"; v1 is HMAC-SHA256 keyed with the base64-
// decoded part of the whsec_ secret, v1a is Ed25519; each signature is
// standard base64 after "scheme,"; several are space-separated. The
// expected values are computed here with crypto/hmac and crypto/ed25519
// directly, not with the package.

const (
	specID        = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W" // the specification's example id
	specTimestamp = 1674087231                        // and timestamp
	specBody      = `{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"1f81eb52-5198-4599-803e-771906343485"}}`
)

func hmacV1(t *testing.T, whsec, content string) string {
	t.Helper()
	secret, err := base64.StdEncoding.DecodeString(whsec[len("whsec_"):])
	require.NoError(t, err)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(content))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestSignMatchesSpecificationV1(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a 32-byte secret for the vector!"))
	key, err := webhook.ParseKey(secret)
	require.NoError(t, err)
	s, err := webhook.NewSigner(webhook.SignerConfig{Keys: []webhook.Key{key}})
	require.NoError(t, err)

	got, err := s.Sign(specID, time.Unix(specTimestamp, 0), []byte(specBody))
	require.NoError(t, err)

	want := hmacV1(t, secret, specID+".1674087231."+specBody)
	assert.Equal(t, want, got)
}

// The specification's repository publishes one vector, in the test suites
// of its libraries (test_sign_function): this secret, id, timestamp and
// payload sign to this exact header value.
func TestSignMatchesPublishedVector(t *testing.T) {
	key, err := webhook.ParseKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	s, err := webhook.NewSigner(webhook.SignerConfig{Keys: []webhook.Key{key}})
	require.NoError(t, err)

	got, err := s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", got)
}

func TestSignMatchesSpecificationV1a(t *testing.T) {
	seed := []byte("an ed25519 seed of 32 bytes ....")
	require.Len(t, seed, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	content := []byte(specID + ".1674087231." + specBody)
	want := "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, content))

	for name, serialized := range map[string]string{
		"seed":            "whsk_" + base64.StdEncoding.EncodeToString(seed),
		"seed and public": "whsk_" + base64.StdEncoding.EncodeToString(priv),
		"unpadded":        "whsk_" + base64.RawStdEncoding.EncodeToString(seed),
	} {
		t.Run(name, func(t *testing.T) {
			key, err := webhook.ParseKey(serialized)
			require.NoError(t, err)
			s, err := webhook.NewSigner(webhook.SignerConfig{Keys: []webhook.Key{key}})
			require.NoError(t, err)
			got, err := s.Sign(specID, time.Unix(specTimestamp, 0), []byte(specBody))
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}

	// The public key a receiver is given is whpk_ and the base64 of the
	// 32-byte Ed25519 public key.
	key, err := webhook.ParseKey("whsk_" + base64.StdEncoding.EncodeToString(seed))
	require.NoError(t, err)
	pub, err := key.PublicKey()
	require.NoError(t, err)
	assert.Equal(t, "whpk_"+base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), pub)
}

// With several keys every signature is listed, space-separated, in the
// order of the keys, as in the specification's example header.
func TestSignListsEverySignatureInKeyOrder(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a 32-byte secret for the vector!"))
	seed := []byte("an ed25519 seed of 32 bytes ....")
	hk, err := webhook.ParseKey(secret)
	require.NoError(t, err)
	ek, err := webhook.ParseKey("whsk_" + base64.StdEncoding.EncodeToString(seed))
	require.NoError(t, err)
	s, err := webhook.NewSigner(webhook.SignerConfig{Keys: []webhook.Key{hk, ek}})
	require.NoError(t, err)

	got, err := s.Sign(specID, time.Unix(specTimestamp, 0), []byte(specBody))
	require.NoError(t, err)

	content := specID + ".1674087231." + specBody
	want := hmacV1(t, secret, content) + " v1a," +
		base64.StdEncoding.EncodeToString(ed25519.Sign(ed25519.NewKeyFromSeed(seed), []byte(content)))
	assert.Equal(t, want, got)
}
