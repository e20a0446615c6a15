package failover

import (
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// CauseRecovered is the Cause of a Switch back to a higher-priority
// channel that passed its checks for the configured hysteresis.
const CauseRecovered = "recovered"

// Switch is a change of the channel a Failover sends on first.
type Switch struct {
	// Set is Config.Name.
	Set string
	// From and To name the channels.
	From, To string
	// Cause is why: classify.Cause of the error that made From unusable
	// ("conn_refused", "dns", "breaker_open", "health_down", ...) for a
	// move down the list, CauseRecovered for a return.
	Cause string
	// Err is the error that made From unusable, nil for a return.
	Err error
	// At is when the switch happened.
	At time.Time
}

// Send is one send on one channel, reported to Config.OnSend.
type Send struct {
	// Set is Config.Name; Channel names the channel used.
	Set, Channel string
	// Message is the message sent. It must not be modified.
	Message *delivery.Message
	// Err is the channel's outcome: nil when it accepted the message.
	Err error
	// Duration is how long the send took.
	Duration time.Duration
}
