package scenario_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.AnnounceSkips(testenv.Postgres)
	goleak.VerifyTestMain(m)
}
