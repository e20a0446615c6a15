package httpsyntax

import (
	"strings"
	"testing"
)

// Token's table holds exactly the characters of RFC 9110's tchar: visible
// ASCII other than the delimiters.
func TestTokenChars(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c > ' ' && c < 0x7f && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, rune(c))
		if got := Token(string([]byte{byte(c)})); got != want {
			t.Errorf("Token(%q) = %v, want %v", c, got, want)
		}
	}
	for s, want := range map[string]bool{
		"": false, "Idempotency-Key": true, "X-Correlation-ID": true, "POST": true,
		"Bad Name": false, "Bad:Name": false, "caf\u00e9": false, "a\x00b": false, "!#$%&'*+-.^_`|~": true,
	} {
		if got := Token(s); got != want {
			t.Errorf("Token(%q) = %v, want %v", s, got, want)
		}
	}
}
