package classify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"
)

// asMethodErr has an As method, which forces the errors.As slow path.
type asMethodErr struct{ inner error }

func (e asMethodErr) Error() string { return "as: " + e.inner.Error() }
func (e asMethodErr) Unwrap() error { return e.inner }
func (e asMethodErr) As(any) bool   { return false }

func sampleErrors(t *testing.T) []error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	_, dialErr := net.Dial("tcp", addr)
	reset := &url.Error{Op: "Post", URL: "http://p", Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}
	return []error{
		dialErr,
		reset,
		&url.Error{Op: "Get", URL: "http://p", Err: context.DeadlineExceeded},
		fmt.Errorf("x: %w", context.Canceled),
		&net.DNSError{Err: "no such host", Name: "p", IsNotFound: true},
		&url.Error{Op: "Get", URL: "https://p", Err: x509.UnknownAuthorityError{}},
		x509.HostnameError{Host: "p"},
		&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded},
		fmt.Errorf("body: %w", io.ErrUnexpectedEOF),
		errors.Join(errors.New("a"), reset),
		errors.Join(&url.Error{Op: "Get", URL: "u", Err: os.ErrDeadlineExceeded}, io.EOF),
		net.ErrClosed,
		errors.New("plain"),
	}
}

func TestFastWalkAgreesWithErrorsAs(t *testing.T) {
	for _, err := range sampleErrors(t) {
		fast, sure := features(err, false)
		if !sure {
			t.Fatalf("%v: fast path gave up without an As method", err)
		}
		if slow := featuresSlow(err); fast != slow {
			t.Errorf("%v: fast %b, errors.As %b", err, fast, slow)
		}
		// The slow path, forced by an As method, classifies the same.
		wrapped := asMethodErr{err}
		if _, sure := features(wrapped, false); sure {
			t.Fatalf("an As method must force the slow path")
		}
		c1, k1 := inspect(err)
		c2, k2 := inspect(fmt.Errorf("w: %w", wrapped))
		if c1 != c2 || k1 != k2 {
			t.Errorf("%v: fast %v/%s, slow %v/%s", err, c1, k1, c2, k2)
		}
	}
}

func TestExplicitAgreesWithErrorsAs(t *testing.T) {
	inner := &Error{Class: ClassEphemeral, Status: 503, RetryAfter: time.Minute}
	for _, err := range []error{
		inner,
		fmt.Errorf("a: %w", inner),
		Discard(fmt.Errorf("b: %w", inner)),
		errors.Join(errors.New("x"), fmt.Errorf("c: %w", inner)),
		asMethodErr{inner},
		errors.New("none"),
	} {
		var want *Error
		errors.As(err, &want)
		if got := explicit(err); !sameExplicit(got, want) {
			t.Errorf("%v: explicit %p, errors.As %p", err, got, want)
		}
	}
}

func TestClassifyingDoesNotAllocate(t *testing.T) {
	errs := sampleErrors(t)[:9]
	errs = append(errs, &Error{Class: ClassEphemeral, Status: 503, RetryAfter: time.Second, Err: io.EOF},
		fmt.Errorf("deliver: %w", Permanent(errors.New("no"))))
	for _, err := range errs {
		n := testing.AllocsPerRun(100, func() {
			_ = Of(err)
			_ = Cause(err)
			_, _ = RetryAfter(err)
			_ = Status(err)
		})
		if n != 0 {
			t.Errorf("%v: %v allocations", err, n)
		}
	}
}

// claimsClass claims, through an As method, to be an *Error of a class it
// does not otherwise carry: only errors.As can see that.
type claimsClass struct{ class Class }

func (e claimsClass) Error() string { return "claims-class" }

func (e claimsClass) As(target any) bool {
	if p, ok := target.(**Error); ok {
		*p = &Error{Class: e.class, RetryAfter: 7 * time.Second}
		return true
	}
	return false
}

// multi is an error with several causes, like errors.Join, but whose list
// may contain nils.
type multi []error

func (m multi) Error() string   { return "multi" }
func (m multi) Unwrap() []error { return m }

// TestWalkAgreesWithErrorsAsOnRandomTrees builds random error trees from
// every kind of node the walk treats differently and checks Of and
// RetryAfter against reference implementations built on errors.As.
func TestWalkAgreesWithErrorsAsOnRandomTrees(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20_000 {
		err := randomError(r, 4)
		var want *Error
		errors.As(err, &want)
		if got := explicit(err); !sameExplicit(got, want) {
			t.Fatalf("tree %d (%v): explicit %+v, errors.As %+v", i, err, got, want)
		}
		wantRA := time.Duration(0)
		for e := want; e != nil; {
			if e.RetryAfter > 0 {
				wantRA = e.RetryAfter
				break
			}
			var next *Error
			if e.Err == nil || !errors.As(e.Err, &next) {
				break
			}
			e = next
		}
		if ra, _ := RetryAfter(err); ra != wantRA {
			t.Fatalf("tree %d (%v): RetryAfter %v, want %v", i, err, ra, wantRA)
		}
	}
}

func randomError(r *rand.Rand, depth int) error {
	leaf := func() error {
		switch r.IntN(5) {
		case 0:
			return nil
		case 1:
			return errors.New("leaf")
		case 2:
			return context.Canceled
		case 3:
			return io.EOF
		}
		return claimsClass{Class(r.IntN(6))}
	}
	if depth == 0 {
		return leaf()
	}
	switch r.IntN(5) {
	case 0:
		return leaf()
	case 1:
		return &Error{Class: Class(r.IntN(6)), RetryAfter: time.Duration(r.IntN(3)) * time.Second, Err: randomError(r, depth-1)}
	case 2:
		inner := randomError(r, depth-1)
		if inner == nil {
			return nil
		}
		return fmt.Errorf("wrap: %w", inner)
	case 3:
		return WithRetryAfter(randomError(r, depth-1), time.Duration(r.IntN(3))*time.Minute)
	}
	m := make(multi, r.IntN(4))
	for j := range m {
		m[j] = randomError(r, depth-1)
	}
	return m
}

// sameExplicit reports whether two results of an *Error lookup agree: the
// same node, or equal copies minted by an As method (which have no cause).
func sameExplicit(a, b *Error) bool {
	if a == b {
		return true
	}
	return a != nil && b != nil && a.Err == nil && b.Err == nil &&
		a.Class == b.Class && a.RetryAfter == b.RetryAfter && a.Status == b.Status
}
