package webhook_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outbound-go/outbound/delivery/webhook"
)

// FuzzVerify feeds arbitrary header values and bodies to a Verifier: it
// never panics, every refusal wraps one of the package's errors, and it
// accepts only what the trusted key signed: a header listing the very
// signature the Signer makes for that id, timestamp and body.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	secret := "whsec_" + b64(32, 'f')
	signer := newSigner(f, now, secret)
	v := newVerifier(f, now, secret)
	valid, err := signer.Sign("msg_1", now, []byte(`{"a":1}`))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct{ id, ts, sig, body string }{
		{"msg_1", "1700000000", valid, `{"a":1}`},
		{"msg_1", "1700000000", valid, `{"a":2}`},
		{"msg_1", "1700000000", "v2,x " + valid + " v1a,AAAA", `{"a":1}`},
		{"msg_1", "1700000001", valid, `{"a":1}`},
		{"msg.1", "1700000000", valid, `{"a":1}`},
		{"msg_1", "-1", valid, ""},
		{"msg_1", "99999999999999999999", valid, ""},
		{"", "", "", ""},
		{"msg_1", "1700000000", "v1,", ""},
	} {
		f.Add(seed.id, seed.ts, seed.sig, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		err := v.VerifyParts(id, ts, sig, body)
		if err != nil {
			for _, known := range []error{webhook.ErrMissingHeader, webhook.ErrMalformedHeader, webhook.ErrTimestampOutsideTolerance, webhook.ErrNoValidSignature} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("error %v wraps none of the package's errors", err)
		}
		sec, perr := strconv.ParseInt(ts, 10, 64)
		if perr != nil {
			t.Fatalf("accepted timestamp %q that does not parse", ts)
		}
		want, serr := signer.Sign(id, time.Unix(sec, 0), body)
		if serr != nil {
			t.Fatalf("accepted id %q the signer refuses: %v", id, serr)
		}
		if strconv.FormatInt(sec, 10) != ts || !strings.Contains(sig, want) {
			t.Fatalf("accepted (%q, %q, %q) that the key did not sign", id, ts, sig)
		}
	})
}
