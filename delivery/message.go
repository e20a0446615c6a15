package delivery

import "time"

// Message is one unit of outbound data: what to send, to whom, and how to
// recognise it again.
type Message struct {
	// ID identifies the message. Stores assign one on enqueue when it is
	// empty. The HTTP deliverer uses it as the Idempotency-Key when
	// IdempotencyKey is empty.
	ID string
	// Key is the ordering group (an order id, a candidate id). Messages with
	// the same non-empty Key are delivered one at a time in enqueue order;
	// messages with no Key are unordered.
	Key string
	// Destination names the partner or endpoint the message goes to. It is
	// optional; when set it labels metrics and logs, so it should have low
	// cardinality ("ats-acme", not a URL with ids in it).
	Destination string
	// Payload is the body to send.
	Payload []byte
	// Headers are extra headers the HTTP deliverer sets on the request.
	Headers map[string]string
	// IdempotencyKey lets the receiver recognise a resend. Stores enqueue at
	// most one record per non-empty IdempotencyKey.
	IdempotencyKey string
	// CorrelationID ties the message to the request or event that produced
	// it, across logs and services. When empty, the HTTP deliverer uses the
	// one in the context (see WithCorrelationID) or generates one.
	CorrelationID string
	// Attempt is the 1-based number of the attempt being made. The
	// dispatcher sets it before each delivery.
	Attempt int
	// CreatedAt is when the message was first enqueued.
	CreatedAt time.Time
}

// DeliveryKey returns the key the receiver should use to recognise a resend
// of m: IdempotencyKey, else ID, else "".
func (m *Message) DeliveryKey() string {
	if m.IdempotencyKey != "" {
		return m.IdempotencyKey
	}
	return m.ID
}
