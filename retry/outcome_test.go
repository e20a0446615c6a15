package retry

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
)

// asError claims, through an As method, to be a *classify.Error of a class
// it does not otherwise carry: only errors.As can see that.
type asError struct{ class classify.Class }

func (e asError) Error() string { return "as-error" }

func (e asError) As(target any) bool {
	if p, ok := target.(**classify.Error); ok {
		*p = &classify.Error{Class: e.class, RetryAfter: 7 * time.Second}
		return true
	}
	return false
}

// multi is an error with several causes, like errors.Join, but whose list
// may contain nils.
type multi []error

func (m multi) Error() string   { return "multi" }
func (m multi) Unwrap() []error { return m }

func TestOutcomeAgreesWithClassify(t *testing.T) {
	boom := errors.New("boom")
	errs := []error{
		nil,
		boom,
		io.ErrUnexpectedEOF,
		context.Canceled,
		context.DeadlineExceeded,
		&url.Error{Op: "Post", URL: "https://x", Err: x509.UnknownAuthorityError{}},
		classify.Permanent(boom),
		classify.New(classify.ClassOK, nil),
		classify.New(classify.ClassEphemeral, nil),
		classify.WithRetryAfter(classify.Ephemeral(boom), time.Minute),
		classify.WithRetryAfter(boom, time.Minute),
		fmt.Errorf("outer: %w", classify.WithRetryAfter(classify.Unavailable(boom), 3*time.Second)),
		classify.Permanent(classify.WithRetryAfter(classify.Ephemeral(boom), time.Hour)),
		classify.WithRetryAfter(classify.Permanent(classify.WithRetryAfter(boom, time.Hour)), time.Second),
		&classify.Error{Class: classify.ClassEphemeral, Err: fmt.Errorf("x: %w", asError{classify.ClassDiscard})},
		errors.Join(boom, classify.Discard(boom), classify.Ephemeral(boom)),
		errors.Join(boom, context.Canceled),
		multi{nil, boom, nil, classify.WithRetryAfter(classify.Unavailable(boom), time.Minute)},
		multi{nil, nil},
		asError{classify.ClassPermanent},
		fmt.Errorf("wrapped: %w", asError{classify.ClassEphemeral}),
		multi{boom, asError{classify.ClassDuplicate}, classify.Ephemeral(boom)},
		fmt.Errorf("two: %w %w", classify.Permanent(boom), classify.WithRetryAfter(classify.Ephemeral(boom), time.Minute)),
		&AttemptsError{Attempts: 3, Err: classify.WithRetryAfter(classify.Ephemeral(boom), time.Minute), Reason: ErrMaxAttempts},
		&AttemptsError{Attempts: 3, Err: boom, Reason: ErrContextDone},
	}
	for i, err := range errs {
		requireSameOutcome(t, err, "case %d: %v", i, err)
	}
}

// TestOutcomeAgreesWithClassifyOnRandomTrees builds random error trees from
// every kind of node the walk treats differently and checks it against
// classify on each.
func TestOutcomeAgreesWithClassifyOnRandomTrees(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20_000 {
		err := randomError(r, 4)
		requireSameOutcome(t, err, "tree %d: %v", i, err)
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
		return asError{classify.Class(r.IntN(6))}
	}
	if depth == 0 {
		return leaf()
	}
	switch r.IntN(6) {
	case 0:
		return leaf()
	case 1:
		return &classify.Error{
			Class:      classify.Class(r.IntN(6)),
			RetryAfter: time.Duration(r.IntN(3)) * time.Second,
			Err:        randomError(r, depth-1),
		}
	case 2:
		inner := randomError(r, depth-1)
		if inner == nil {
			return nil
		}
		return fmt.Errorf("wrap: %w", inner)
	case 3:
		return classify.WithRetryAfter(randomError(r, depth-1), time.Duration(r.IntN(3))*time.Minute)
	case 4:
		m := make(multi, r.IntN(4))
		for j := range m {
			m[j] = randomError(r, depth-1)
		}
		return m
	}
	return &AttemptsError{Attempts: 1, Err: randomError(r, depth-1)}
}

func requireSameOutcome(t *testing.T, err error, msg string, args ...any) {
	t.Helper()
	class, ra := outcome(err)
	wantRA, ok := classify.RetryAfter(err)
	require.Equal(t, classify.Of(err), class, append([]any{msg}, args...)...)
	require.Equal(t, wantRA, ra, append([]any{msg}, args...)...)
	require.Equal(t, ok, ra > 0, append([]any{msg}, args...)...)
}

func TestOutcomeDoesNotAllocateForExplicitErrors(t *testing.T) {
	err := fmt.Errorf("deliver: %w", classify.WithRetryAfter(&classify.Error{Class: classify.ClassEphemeral, Status: 503}, time.Minute))
	allocs := testing.AllocsPerRun(100, func() {
		class, ra := outcome(err)
		if class != classify.ClassEphemeral || ra != time.Minute {
			t.Fatal(class, ra)
		}
	})
	assert.Zero(t, allocs)
}
