package health

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/classify"
)

func TestRefusalsNameTheirCause(t *testing.T) {
	open := unavailable(fmt.Errorf("breaker x: %w", ErrBreakerOpen), time.Second)
	assert.Equal(t, "breaker_open", classify.Cause(open))
	assert.Equal(t, classify.ClassUnavailable, classify.Of(open))
	down := &DownError{Name: "partner", Cause: errors.New("dial tcp: connection refused")}
	assert.Equal(t, "health_down", classify.Cause(unavailable(down, time.Second)))
	assert.ErrorIs(t, down, ErrDown)
}
