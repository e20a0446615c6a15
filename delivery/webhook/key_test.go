package webhook_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery/webhook"
)

func b64(n int, fill byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{fill}, n))
}

func TestParseKeyRefusesMalformedKeysWithoutEchoingThem(t *testing.T) {
	for _, tc := range []struct {
		name, key, want string
	}{
		{"empty", "", "key is empty"},
		{"no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "does not start with whsec_, whsk_ or whpk_"},
		{"other prefix", "sk_live_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "does not start with"},
		{"secret not base64", "whsec_MfKQ9r8GKYqrTw!UPD8ILPZIo2LaLaSw", "whsec_ key is not valid base64"},
		{"secret too short", "whsec_" + b64(23, 's'), "decodes to 23 bytes; it must be 24 to 64"},
		{"secret too long", "whsec_" + b64(65, 's'), "decodes to 65 bytes; it must be 24 to 64"},
		{"secret key not base64", "whsk_" + strings.Repeat("%", 44), "whsk_ key is not valid base64"},
		{"secret key wrong size", "whsk_" + b64(31, 'k'), "decodes to 31 bytes; it must be 32 (seed) or 64"},
		{"secret key halves mismatch", "whsk_" + b64(64, 'k'), "public half does not belong to its seed"},
		{"public key wrong size", "whpk_" + b64(33, 'p'), "decodes to 33 bytes; it must be 32"},
		{"prefix only", "whsec_", "decodes to 0 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := webhook.ParseKey(tc.key)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "webhook: "), err.Error())
			if body := strings.SplitN(tc.key, "_", 2); len(body) == 2 && len(body[1]) > 4 {
				assert.NotContains(t, err.Error(), body[1][:5], "the error echoes the key")
			}
		})
	}
}

func TestParseKeyAcceptsSpecificationForms(t *testing.T) {
	for _, tc := range []struct{ key, scheme string }{
		{"whsec_" + b64(24, 's'), "v1"},
		{"whsec_" + b64(64, 's'), "v1"},
		{"whsec_" + base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{'s'}, 25)), "v1"},
		{" whsec_" + b64(32, 's') + "\n", "v1"},
		{"whsk_" + b64(32, 'k'), "v1a"},
		{"whpk_" + b64(32, 'p'), "v1a"},
	} {
		k, err := webhook.ParseKey(tc.key)
		require.NoError(t, err, tc.key)
		assert.Equal(t, tc.scheme, k.Scheme())
	}
}

func TestNewKeyPairAndSecretParse(t *testing.T) {
	sk, pk := webhook.NewKeyPair()
	signing, err := webhook.ParseKey(sk)
	require.NoError(t, err)
	assert.True(t, signing.CanSign())
	public, err := webhook.ParseKey(pk)
	require.NoError(t, err)
	assert.False(t, public.CanSign())
	derived, err := signing.PublicKey()
	require.NoError(t, err)
	assert.Equal(t, pk, derived)

	secret, err := webhook.ParseKey(webhook.NewSecret())
	require.NoError(t, err)
	assert.Equal(t, "v1", secret.Scheme())
	_, err = secret.PublicKey()
	require.Error(t, err)
	assert.NotEqual(t, webhook.NewSecret(), webhook.NewSecret())
}

// Keys, signers and verifiers print without their material under every
// fmt verb, in slog (text and JSON), in JSON, and inside structs.
func TestKeysNeverShowTheirMaterial(t *testing.T) {
	secretB64 := b64(32, 'S')
	seedB64 := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	hk, err := webhook.ParseKey("whsec_" + secretB64)
	require.NoError(t, err)
	ek, err := webhook.ParseKey("whsk_" + seedB64)
	require.NoError(t, err)
	signer, err := webhook.NewSigner(webhook.SignerConfig{Keys: []webhook.Key{hk, ek}})
	require.NoError(t, err)
	verifier, err := webhook.NewVerifier(webhook.VerifierConfig{Keys: []webhook.Key{hk, ek}})
	require.NoError(t, err)
	cfg := webhook.SignerConfig{Keys: []webhook.Key{hk, ek}}
	nested := struct {
		Key    webhook.Key
		Keys   []webhook.Key
		Signer *webhook.Signer
	}{hk, []webhook.Key{ek}, signer}

	var out strings.Builder
	for _, v := range []any{hk, ek, &hk, signer, verifier, cfg, &cfg, nested} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		fmt.Fprintln(&out, v)
		j, _ := json.Marshal(v)
		out.Write(j)
	}
	for _, h := range []slog.Handler{slog.NewTextHandler(&out, nil), slog.NewJSONHandler(&out, nil)} {
		slog.New(h).Info("keys", "hmac", hk, "ed", ek, "signer", signer, "verifier", verifier, "cfg", cfg)
	}

	text := out.String()
	assert.Contains(t, text, "redacted")
	seed := []byte("0123456789abcdef0123456789abcdef")
	for _, leak := range []string{
		secretB64, secretB64[:12], seedB64, seedB64[:12], strings.Repeat("S", 32), string(seed),
		fmt.Sprintf("%x", bytes.Repeat([]byte{'S'}, 8)), fmt.Sprintf("%x", seed[:8]), fmt.Sprintf("%X", seed[:8]),
		fmt.Sprint(seed[:8])[1:15], // a []byte printed as numbers
	} {
		assert.NotContains(t, text, leak)
	}
	assert.Equal(t, "webhook.Key(v1 secret, redacted)", hk.String())
	assert.Equal(t, "webhook.Signer(v1, v1a)", signer.String())
}
