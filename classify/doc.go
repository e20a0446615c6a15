// Package classify decides what the outcome of one delivery attempt means.
//
// Every attempt ends in exactly one [Class]. Code that acts on outcomes (the
// retry package, the health gate, the delivery dispatcher) branches on the
// class, never on raw status codes or error strings:
//
//	ClassOK           accepted                       -> mark delivered
//	ClassDuplicate    the receiver already had it    -> mark delivered, flagged
//	ClassEphemeral    may succeed later              -> retry with backoff
//	ClassPermanent    will fail every time           -> dead-letter at once
//	ClassDiscard      the record itself is invalid   -> drop with the reason
//	ClassUnavailable  destination down or shutting   -> wait; no attempt counted
//
// Errors are marked with the constructors [Permanent], [Ephemeral],
// [Discard], [Duplicate] and [Unavailable], which return nil for a nil
// error, so a deliverer can write
//
//	if err := validate(msg); err != nil {
//		return classify.Discard(err)
//	}
//
// One error type, [*Error], carries the class together with the HTTP status,
// the partner's Retry-After and a bounded snippet of the response body. It
// unwraps, so [errors.Is] and [errors.As] see the cause. [Of] infers the class
// of any error, including plain network errors from net/http, so callers can
// return whatever they have.
//
// [HTTPRules] maps HTTP responses to classes. The zero value is the default
// mapping (2xx OK; 408, 425, 429 and 5xx Ephemeral; other statuses
// Permanent) and can be adjusted per partner:
//
//	rules := classify.HTTPRules{
//		Statuses: map[int]classify.Class{
//			409: classify.ClassDuplicate, // "we already have this record"
//			422: classify.ClassDiscard,   // "this record is invalid, never resend"
//		},
//		Body: classify.BodyContains("invalid record", classify.ClassDiscard),
//		BodyByStatus: map[int]classify.BodyRule{
//			// this partner answers 500 for a record it already holds
//			500: classify.BodyContains("already processed", classify.ClassDuplicate),
//		},
//	}
//	err := rules.Classify(resp, bodyPrefix) // nil for OK, *Error otherwise
//	switch classify.Of(err) {
//	case classify.ClassEphemeral:
//		// retry later, no sooner than classify.RetryAfter(err)
//	}
//
// A body rule never turns an outage into a delivered record by accident. A
// rule in HTTPRules.Body sees every response, so it may not mark delivered
// (ClassOK or ClassDuplicate) a response whose status says the partner did
// not process the request: 408, 425, 429 and every 5xx (and any status that
// is neither 2xx nor 4xx). A 503 error page that happens to contain
// "already exists" stays Ephemeral and is retried. Only a rule the user
// scoped to a status, in HTTPRules.BodyByStatus, may mark such a response
// delivered. Body rules may always mark a response Discard, Permanent or
// Ephemeral.
//
// The package depends only on the standard library.
package classify
