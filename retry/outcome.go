package retry

import (
	"time"

	"github.com/outbound-go/outbound/classify"
)

// outcome returns the class of err exactly as [classify.Of] does and the
// Retry-After hint exactly as [classify.RetryAfter] does (0 when there is
// none).
//
// It exists because the durable dispatcher calls Policy.Next for every failed
// attempt and Next is documented as allocation-free, while errors.As, on
// which classify's functions are built, makes its target escape. For the
// errors this library produces, which carry a *classify.Error, outcome walks
// the chain itself without allocating. It defers to classify whenever the
// answer needs inference (no *classify.Error in the chain) or an error in
// the chain has an As method, so the two can never disagree.
func outcome(err error) (classify.Class, time.Duration) {
	if err == nil {
		return classify.ClassOK, 0
	}
	e, w := findExplicit(err)
	switch w {
	case walkUnsure:
		ra, _ := classify.RetryAfter(err)
		return classify.Of(err), ra
	case walkNotFound:
		// No *classify.Error anywhere, so no Retry-After either.
		return classify.Of(err), 0
	}
	return e.Class, retryAfterFrom(e)
}

// retryAfterFrom follows classify.RetryAfter's rule from the outermost
// *classify.Error e: the first one, going inwards through each Err, that has
// a positive RetryAfter.
func retryAfterFrom(e *classify.Error) time.Duration {
	for {
		if e.RetryAfter > 0 {
			return e.RetryAfter
		}
		if e.Err == nil {
			return 0
		}
		next, w := findExplicit(e.Err)
		switch w {
		case walkUnsure:
			ra, _ := classify.RetryAfter(e.Err)
			return ra
		case walkNotFound:
			return 0
		}
		e = next
	}
}

type walk uint8

const (
	walkFound    walk = iota // a *classify.Error was found
	walkNotFound             // the chain holds no *classify.Error
	walkUnsure               // an As method could change errors.As's answer
)

// findExplicit finds the *classify.Error that errors.As would find in err's
// tree, visiting errors in the same depth-first pre-order. It gives up
// (walkUnsure) at an error with an As method, whose answer only errors.As
// itself can obtain.
func findExplicit(err error) (*classify.Error, walk) {
	for err != nil {
		if e, ok := err.(*classify.Error); ok {
			return e, walkFound
		}
		if _, ok := err.(interface{ As(any) bool }); ok {
			return nil, walkUnsure
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if inner == nil {
					continue
				}
				if e, w := findExplicit(inner); w != walkNotFound {
					return e, w
				}
			}
			return nil, walkNotFound
		default:
			return nil, walkNotFound
		}
	}
	return nil, walkNotFound
}
