package webhook

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Bounds on a webhook-signature header a Verifier will look at, so that a
// forged header cannot make it verify without end. Rotation needs two or
// three entries; these leave ample room.
const (
	MaxSignatureHeader = 8 << 10
	MaxSignatures      = 32
)

// signature is one entry of a webhook-signature header in a scheme the
// package knows, with its decoded bytes.
type signature struct {
	scheme string
	sig    []byte
}

// parseSignatures returns the v1 and v1a entries of a webhook-signature
// value, in order. Entries are separated by spaces (runs of spaces are
// tolerated); each is "scheme,base64". Entries of other schemes (a future
// v2) and entries whose signature does not decode to the scheme's length
// are skipped, as the specification's forward compatibility asks: another
// entry may still verify. It fails with a reason when the value is over
// MaxSignatureHeader, lists more than MaxSignatures entries, or has no
// usable entry.
func parseSignatures(v string) ([]signature, error) {
	if len(v) > MaxSignatureHeader {
		return nil, malformed(HeaderSignature + " is longer than the limit of 8 KiB")
	}
	var out []signature
	entries := 0
	for e := range strings.SplitSeq(v, " ") {
		if e == "" {
			continue
		}
		if entries++; entries > MaxSignatures {
			return nil, malformed(HeaderSignature + " lists more than 32 signatures")
		}
		scheme, b64, ok := strings.Cut(e, ",")
		if !ok {
			continue
		}
		var size int
		switch scheme {
		case SchemeHMAC:
			size = sha256.Size
		case SchemeEd25519:
			size = ed25519.SignatureSize
		default:
			continue
		}
		sig, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil || len(sig) != size {
			continue
		}
		out = append(out, signature{scheme: scheme, sig: sig})
	}
	if len(out) == 0 {
		if entries == 0 {
			return nil, missing(HeaderSignature)
		}
		return nil, malformed(HeaderSignature + " lists no well-formed v1 or v1a signature")
	}
	return out, nil
}
