package classify

import "errors"

// findExplicit returns the *Error that errors.As would find in err's tree,
// visiting errors in the same depth-first pre-order, without allocating.
// sure is false when an error with an As method is met before an *Error:
// only errors.As can say what that method would answer.
func findExplicit(err error) (e *Error, sure bool) {
	for err != nil {
		if ce, ok := err.(*Error); ok {
			return ce, true
		}
		if _, ok := err.(interface{ As(any) bool }); ok {
			return nil, false
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if ce, ok := findExplicit(inner); ce != nil || !ok {
					return ce, ok
				}
			}
			return nil, true
		default:
			return nil, true
		}
	}
	return nil, true
}

// explicit returns the outermost *Error in err's tree, or nil.
func explicit(err error) *Error {
	if e, sure := findExplicit(err); sure {
		return e
	}
	return explicitSlow(err)
}

func explicitSlow(err error) *Error {
	var e *Error
	errors.As(err, &e)
	return e
}
