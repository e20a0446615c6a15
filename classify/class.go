package classify

import "fmt"

// Class is what the outcome of one delivery attempt means. The zero value is
// ClassOK.
type Class uint8

// The outcome classes. Their handling is fixed by the library's design: see
// the package documentation.
const (
	// ClassOK means the destination accepted the message.
	ClassOK Class = iota
	// ClassDuplicate means the destination already had the message (for example
	// HTTP 409, or a body saying "already processed"). It is a success:
	// the record is marked delivered and flagged as a duplicate.
	ClassDuplicate
	// ClassEphemeral means the attempt failed but may succeed later: timeouts,
	// connection resets, DNS failures, HTTP 408, 425, 429 and 5xx. It is
	// retried with backoff and counts as an attempt.
	ClassEphemeral
	// ClassPermanent means the attempt will fail every time until someone
	// changes something: most 4xx responses, TLS certificate errors, a
	// request that cannot be built. It is not retried; the record is
	// dead-lettered for inspection and redrive.
	ClassPermanent
	// ClassDiscard means the record itself is invalid and must never be sent
	// again. The record moves to a terminal discarded state with the
	// reason.
	ClassDiscard
	// ClassUnavailable means the destination was not tried, or could not be:
	// its health gate is closed, its circuit breaker is open, or the
	// caller is shutting down. It is retried later and does not consume an
	// attempt.
	ClassUnavailable
)

var classNames = [...]string{
	ClassOK:          "ok",
	ClassDuplicate:   "duplicate",
	ClassEphemeral:   "ephemeral",
	ClassPermanent:   "permanent",
	ClassDiscard:     "discard",
	ClassUnavailable: "unavailable",
}

// Classes lists every class in declaration order, for iteration in metrics
// and reports.
var Classes = [...]Class{ClassOK, ClassDuplicate, ClassEphemeral, ClassPermanent, ClassDiscard, ClassUnavailable}

// String returns the lower-case name of the class ("ok", "ephemeral", ...),
// or "class(N)" for a value outside the defined set.
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Valid reports whether c is one of the defined classes.
func (c Class) Valid() bool { return int(c) < len(classNames) }

// Retryable reports whether an outcome of this class should be tried again
// later: true for ClassEphemeral and ClassUnavailable only.
func (c Class) Retryable() bool { return c == ClassEphemeral || c == ClassUnavailable }

// Delivered reports whether the destination has the message: true for ClassOK and
// ClassDuplicate.
func (c Class) Delivered() bool { return c == ClassOK || c == ClassDuplicate }

// CountsAttempt reports whether an outcome of this class consumes one of a
// record's attempts. Every class does except ClassUnavailable, which means the
// destination was never really tried.
func (c Class) CountsAttempt() bool { return c != ClassUnavailable }

// MarshalText encodes the class as its name. It fails for an undefined
// class.
func (c Class) MarshalText() ([]byte, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("classify: cannot marshal undefined class %d", uint8(c))
	}
	return []byte(classNames[c]), nil
}

// UnmarshalText decodes a class name produced by MarshalText or String. It
// returns an error naming the input for an unknown name.
func (c *Class) UnmarshalText(text []byte) error {
	p, err := ParseClass(string(text))
	if err != nil {
		return err
	}
	*c = p
	return nil
}

// ParseClass returns the class with the given name, as printed by String. It
// returns an error for an unknown name.
func ParseClass(name string) (Class, error) {
	for i, n := range classNames {
		if n == name {
			return Class(i), nil
		}
	}
	return 0, fmt.Errorf("classify: unknown class %q", name)
}
