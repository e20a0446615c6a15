package retry

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/classify"
)

func TestOutcomeDoesNotAllocateForExplicitErrors(t *testing.T) {
	err := fmt.Errorf("deliver: %w", classify.WithRetryAfter(&classify.Error{Class: classify.ClassEphemeral, Status: 503}, time.Minute))
	allocs := testing.AllocsPerRun(100, func() {
		class, ra := outcome(err)
		if class != classify.ClassEphemeral || ra != time.Minute {
			t.Fatal(class, ra)
		}
	})
	assert.Zero(t, allocs)
}
