package classify

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/outbound-go/outbound/internal/text"
)

// MaxBodySnippet is how many bytes of a response body an [*Error] keeps, so
// that whoever reads a dead letter sees what the partner said without the
// store holding whole responses.
const MaxBodySnippet = 1024

// Error is an outcome with an explicit class. It carries what a retry policy,
// a dead-letter reader and a metrics adapter need: the class, the HTTP status
// and Retry-After of the response (if there was one), a bounded snippet of
// the response body, and the underlying cause.
//
// Error unwraps to Err, so errors.Is and errors.As see the cause. When errors
// wrap one another, [Of] uses the outermost *Error.
type Error struct {
	// Class is the outcome class.
	Class Class
	// Status is the HTTP status code of the response, or 0 if there was no
	// response.
	Status int
	// RetryAfter is how long the destination asked us to wait (from a
	// Retry-After header, or from a gate that knows when to look again),
	// or 0 if it did not say.
	RetryAfter time.Duration
	// Body is a prefix of the response body, at most MaxBodySnippet bytes,
	// valid UTF-8. Empty when there was no response or no body.
	Body string
	// Err is the underlying cause. It may be nil when Status says it all.
	Err error
}

// New returns an *Error of class c wrapping err. Unlike the class-named
// constructors it returns a non-nil error even when err is nil, so it can
// express an outcome that has no underlying Go error.
func New(c Class, err error) *Error { return &Error{Class: c, Err: err} }

// Permanent marks err as ClassPermanent: it will fail every time. It returns nil
// if err is nil.
func Permanent(err error) error { return wrap(ClassPermanent, err) }

// Ephemeral marks err as ClassEphemeral: it may succeed later. It returns nil if
// err is nil.
func Ephemeral(err error) error { return wrap(ClassEphemeral, err) }

// Discard marks err as ClassDiscard: the record is invalid and must never be sent
// again. It returns nil if err is nil.
func Discard(err error) error { return wrap(ClassDiscard, err) }

// Duplicate marks err as ClassDuplicate: the destination already had the message.
// It returns nil if err is nil.
func Duplicate(err error) error { return wrap(ClassDuplicate, err) }

// Unavailable marks err as ClassUnavailable: the destination was not tried. It
// returns nil if err is nil.
func Unavailable(err error) error { return wrap(ClassUnavailable, err) }

// WithRetryAfter returns err marked with a Retry-After hint d, keeping its
// class (as given by [Of]). It returns nil if err is nil, and err unchanged
// if d <= 0.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil || d <= 0 {
		return err
	}
	return &Error{Class: Of(err), RetryAfter: d, Status: Status(err), Err: err}
}

func wrap(c Class, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Class: c, Err: err}
}

// Error describes the outcome: class, status, Retry-After, cause and body
// snippet, in that order, omitting what is absent. It never includes request
// headers, so credentials cannot leak through it.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Class.String())
	if e.Status != 0 {
		b.WriteString(": http ")
		b.WriteString(strconv.Itoa(e.Status))
		if t := http.StatusText(e.Status); t != "" {
			b.WriteByte(' ')
			b.WriteString(t)
		}
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after ")
		b.WriteString(e.RetryAfter.String())
		b.WriteByte(')')
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Body != "" {
		b.WriteString(": body ")
		b.WriteString(strconv.Quote(snippet(e.Body, 200)))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// RetryAfter returns the Retry-After hint carried by the outermost [*Error]
// in err's chain that has one, and whether there was one.
func RetryAfter(err error) (time.Duration, bool) {
	for e := explicit(err); e != nil; e = explicit(e.Err) {
		if e.RetryAfter > 0 {
			return e.RetryAfter, true
		}
	}
	return 0, false
}

// Status returns the HTTP status carried by the outermost [*Error] in err's
// chain that has one, or 0.
func Status(err error) int {
	for e := explicit(err); e != nil; e = explicit(e.Err) {
		if e.Status != 0 {
			return e.Status
		}
	}
	return 0
}

// snippet returns at most n bytes of s, cut at a rune boundary, with invalid
// UTF-8 replaced so the result is safe to log and store as text.
func snippet(s string, n int) string { return text.Snippet(s, n) }
