package text_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/internal/text"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"", 5, ""},
		{"hello", 5, "hello"},
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"hello", 0, ""},
		{"hello", -1, ""},
		{"héllo", 2, "h"},                           // é is 2 bytes: never half of it
		{"héllo", 3, "hé"},                          // the whole é fits
		{"a😀b", 4, "a"},                             // 4-byte rune cut after 3 bytes
		{"a😀b", 5, "a😀"},                            // exactly fits
		{"a😀b", 2, "a"},                             // cut after the lead byte
		{"\x80\x80\x80\x80\x80", 3, "\x80\x80\x80"}, // invalid bytes are kept, not walked back over
		{"ab\xffcd", 3, "ab\xff"},
		{"ab\xe2", 3, "ab\xe2"}, // fits: returned as is
		{"ab\xe2x", 3, "ab"},    // a lead byte the cut left alone is dropped
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, text.Truncate(tt.s, tt.n), "Truncate(%q, %d)", tt.s, tt.n)
	}
}

func TestEllipsis(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"hello", 5, "hello"},
		{"hello world", 8, "hello…"},
		{"héllo", 4, "h…"},
		{"hello", 3, "…"},
		{"hello", 2, "he"}, // no room for the mark
		{"hello", 0, ""},
	}
	for _, tt := range tests {
		got := text.Ellipsis(tt.s, tt.n)
		assert.Equal(t, tt.want, got, "Ellipsis(%q, %d)", tt.s, tt.n)
		assert.LessOrEqual(t, len(got), max(tt.n, 0))
	}
}

func TestSnippet(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"plain", 10, "plain"},
		{"a\xffb", 10, "a\uFFFDb"},
		{"a\xffb", 3, "a"},                // U+FFFD is 3 bytes: "a\uFFFD" would be 4
		{"\xff\xff\xff\xff", 6, "\uFFFD"}, // a run of bad bytes is one replacement
		{"\xffa\xffb\xffc", 7, "\uFFFDa\uFFFD"},
		{"héllo", 2, "h"},
	}
	for _, tt := range tests {
		got := text.Snippet(tt.s, tt.n)
		assert.Equal(t, tt.want, got, "Snippet(%q, %d)", tt.s, tt.n)
		assert.LessOrEqual(t, len(got), tt.n)
		assert.True(t, utf8.ValidString(got))
	}
}

func FuzzTruncate(f *testing.F) {
	for _, s := range []string{"", "hello", "héllo", "a😀b", "\xff\xfe", "\x80\x80\x80\x80", "日本語テキスト"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n %= 64
		got := text.Truncate(s, n)
		if !strings.HasPrefix(s, got) {
			t.Fatalf("Truncate(%q, %d) = %q is not a prefix", s, n, got)
		}
		if len(s) <= n {
			if got != s {
				t.Fatalf("Truncate(%q, %d) = %q, want it whole", s, n, got)
			}
			return
		}
		if len(got) > max(n, 0) || (n > 0 && len(got) < n-utf8.UTFMax+1) {
			t.Fatalf("Truncate(%q, %d) has %d bytes", s, n, len(got))
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Truncate(%q, %d) = %q split a rune", s, n, got)
		}
		e := text.Ellipsis(s, n)
		if len(e) > max(n, 0) || (n >= len(text.Mark) && !strings.HasSuffix(e, text.Mark)) {
			t.Fatalf("Ellipsis(%q, %d) = %q", s, n, e)
		}
		if sn := text.Snippet(s, n); len(sn) > max(n, 0) || !utf8.ValidString(sn) {
			t.Fatalf("Snippet(%q, %d) = %q", s, n, sn)
		}
	})
}

func BenchmarkTruncate(b *testing.B) {
	s := strings.Repeat("héllo wörld ", 400)
	for b.Loop() {
		_ = text.Truncate(s, 2048)
	}
}

func BenchmarkSnippetInvalid(b *testing.B) {
	s := strings.Repeat("h\xffllo ", 400)
	b.ReportAllocs()
	for b.Loop() {
		_ = text.Snippet(s, 1024)
	}
}
