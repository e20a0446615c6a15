package sqlite_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/delivery/storetest/killtest"
)

// TestMain fails the package's tests if any goroutine outlives them (every
// Store must be closed). When the binary is re-executed as the kill test's
// child it runs the child's dispatcher instead of the tests, and as a
// child of TestSeparateProcessesShareOneFile its part of that test.
func TestMain(m *testing.M) {
	if killtest.IsChild() {
		os.Exit(killtest.RunChild(openChildStore, childTiming))
	}
	if os.Getenv(procRoleEnv) != "" {
		os.Exit(runProcChild())
	}
	goleak.VerifyTestMain(m)
}
