package webhook

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func FuzzParseSignatureHeader(f *testing.F) {
	v1 := "v1," + base64.StdEncoding.EncodeToString(make([]byte, sha256.Size))
	v1a := "v1a," + base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize))
	for _, seed := range []string{
		"", " ", v1, v1a, v1 + " " + v1a, "  " + v1 + "   " + v1a + " ",
		"v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==",
		"v2,abc " + v1, "v1,", "v1", ",", "v1,,", "v1a," + v1[3:], v1 + "\t" + v1a, strings.Repeat(v1+" ", 33),
		"v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=\x00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		sigs, err := parseSignatures(header)
		if err != nil {
			if sigs != nil {
				t.Fatalf("error %v with %d signatures", err, len(sigs))
			}
			if !errors.Is(err, ErrMalformedHeader) && !errors.Is(err, ErrMissingHeader) {
				t.Fatalf("error %v wraps neither ErrMalformedHeader nor ErrMissingHeader", err)
			}
			return
		}
		if len(sigs) == 0 || len(sigs) > MaxSignatures || len(header) > MaxSignatureHeader {
			t.Fatalf("%d signatures accepted from a %d-byte header", len(sigs), len(header))
		}
		entries := make([]string, len(sigs))
		for i, s := range sigs {
			want := map[string]int{SchemeHMAC: sha256.Size, SchemeEd25519: ed25519.SignatureSize}[s.scheme]
			if want == 0 || len(s.sig) != want {
				t.Fatalf("signature %d: scheme %q with %d bytes", i, s.scheme, len(s.sig))
			}
			entries[i] = s.scheme + "," + base64.StdEncoding.EncodeToString(s.sig)
			if !strings.Contains(header, entries[i]) {
				t.Fatalf("signature %d (%s) is not in the header", i, entries[i])
			}
		}
		again, err := parseSignatures(strings.Join(entries, " "))
		if err != nil || len(again) != len(sigs) {
			t.Fatalf("re-serialized header parses to %d signatures, %v", len(again), err)
		}
	})
}
