package testenv_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the goroutines the tests start for their fake
// testing.TB all end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
