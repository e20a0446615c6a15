package testenv_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/internal/testenv"
)

func TestUniqueNameIsAnIdentifier(t *testing.T) {
	t.Run(strings.Repeat("Very Long/Sub-Test Name ", 8), func(t *testing.T) {
		a := testenv.UniqueName(t, "outbox")
		b := testenv.UniqueName(t, "outbox")
		assert.NotEqual(t, a, b)
		assert.LessOrEqual(t, len(a), 63)
		assert.Regexp(t, regexp.MustCompile(`^outbox_[a-z0-9_]+_[0-9a-f]{8}$`), a)
	})
}
