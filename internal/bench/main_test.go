package bench

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if IsFleetChild() { // a dispatcher process started by RunFleet
		os.Exit(RunFleetChild())
	}
	if IsChaosChild() { // the dispatcher process of a chaos cell
		os.Exit(RunChaosChild())
	}
	if IsScaleChild() { // the dispatcher process started by RunScaleDrain
		os.Exit(RunScaleChild())
	}
	if IsInstructionsChild() { // a contender counted by CountInstructions
		os.Exit(RunInstructionsChild())
	}
	goleak.VerifyTestMain(m)
}
