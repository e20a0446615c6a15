package retry_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: Do starts none
// itself, and the synctest-based tests start Do on goroutines of their own.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
