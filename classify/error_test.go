package classify_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
)

// Replacing invalid bytes with U+FFFD (3 bytes each) must not push the
// snippet past its bound: the bound is checked after the replacement.
func TestBodySnippetWithInvalidUTF8StaysBounded(t *testing.T) {
	body := strings.Repeat("a\xff", classify.MaxBodySnippet/2)
	err := classify.HTTPRules{}.Classify(response(400), []byte(body))
	var ce *classify.Error
	require.ErrorAs(t, err, &ce)
	assert.LessOrEqual(t, len(ce.Body), classify.MaxBodySnippet)
	assert.True(t, utf8.ValidString(ce.Body))
	assert.True(t, strings.HasPrefix(ce.Body, "a\uFFFDa\uFFFD"), "the partner's words are kept, bad bytes replaced")
	assert.Greater(t, len(ce.Body), classify.MaxBodySnippet-utf8.UTFMax, "cut only as much as the bound needs")
}
