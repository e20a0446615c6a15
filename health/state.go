package health

import "fmt"

// State is what a [Monitor] believes about its destination. The zero value
// is StateUnknown.
type State uint8

// The destination states.
const (
	// StateUnknown means the destination has never been checked, or no check
	// has finished yet. It is not "up": see [Monitor.Allow] for what the gate
	// does with it.
	StateUnknown State = iota
	// StateUp means the destination passed its checks.
	StateUp
	// StateDown means the destination failed FailureThreshold checks in a row
	// (or its very first check).
	StateDown
)

var stateNames = [...]string{StateUnknown: "unknown", StateUp: "up", StateDown: "down"}

// String returns "unknown", "up" or "down", or "state(N)" for a value
// outside the defined set.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// MarshalText encodes the state as its name. It fails for an undefined
// state.
func (s State) MarshalText() ([]byte, error) {
	if int(s) >= len(stateNames) {
		return nil, fmt.Errorf("health: cannot marshal undefined state %d", uint8(s))
	}
	return []byte(stateNames[s]), nil
}
