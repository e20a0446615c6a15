package classify_test

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/outbound-go/outbound/classify"
)

func ExampleOf() {
	errs := []error{
		nil,
		classify.Permanent(errors.New("account has no credit")),
		fmt.Errorf("send: %w", classify.Discard(errors.New("candidate record is invalid"))),
		&classify.Error{Class: classify.ClassEphemeral, Status: http.StatusServiceUnavailable},
	}
	for _, err := range errs {
		fmt.Printf("%-11s %s\n", classify.Of(err), classify.Cause(err))
	}
	// Output:
	// ok          ok
	// permanent   other
	// discard     other
	// ephemeral   http_503
}

func ExampleHTTPRules() {
	// The partner answers 409 for records it already has, 422 for records
	// that will never be valid, and sometimes 500 with a body saying it
	// already processed the record. The body rule is scoped to 500: on a
	// 503 the same words stay an outage to retry.
	rules := classify.HTTPRules{
		Statuses: map[int]classify.Class{
			http.StatusConflict:            classify.ClassDuplicate,
			http.StatusUnprocessableEntity: classify.ClassDiscard,
		},
		BodyByStatus: map[int]classify.BodyRule{
			http.StatusInternalServerError: classify.BodyContains("already processed", classify.ClassDuplicate),
		},
	}
	body := []byte(`{"error":"record already processed"}`)
	err := rules.Classify(&http.Response{StatusCode: 500, Header: http.Header{}}, body)
	fmt.Println(classify.Of(err))
	err = rules.Classify(&http.Response{StatusCode: 503, Header: http.Header{}}, body)
	fmt.Println(classify.Of(err))

	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"30"}}}
	err = rules.Classify(resp, nil)
	wait, _ := classify.RetryAfter(err)
	fmt.Println(classify.Of(err), wait)
	// Output:
	// duplicate
	// ephemeral
	// ephemeral 30s
}
