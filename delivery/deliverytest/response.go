package deliverytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Response is one scripted answer of a [Partner]. It is plain data: build it
// inline, or with the constructors below. The zero value is 200 OK with an
// empty body.
type Response struct {
	// Status is the HTTP status code. Zero means 200 OK.
	Status int
	// Body is the response body.
	Body string
	// Header holds extra response headers.
	Header map[string]string
	// RetryAfter, if positive, is sent as a Retry-After header in whole
	// seconds, rounded up.
	RetryAfter time.Duration
	// Delay holds the answer back this long, on top of
	// PartnerConfig.Latency. A client that gives up first gets nothing, and
	// the partner does not process the request.
	Delay time.Duration
	// Fault replaces the answer with a transport failure (see [Fault]).
	Fault Fault
	// Duplicate marks an answer by which the partner says it already holds
	// the record ("already processed"): its Idempotency-Key counts as
	// delivered, but the request is not processed again.
	Duplicate bool
}

// Fault is a transport failure a [Partner] can play instead of answering.
type Fault uint8

// The faults.
const (
	// FaultNone answers normally.
	FaultNone Fault = iota
	// FaultHang never answers: the request stays open until the client
	// gives up (its timeout or context ends) or the partner is closed. The
	// request is not processed.
	FaultHang
	// FaultReset reads the request and drops the connection before sending
	// a byte: a TCP reset (SO_LINGER 0) on loopback, an abrupt close in
	// memory. The request is not processed. Go's http.Transport replays a
	// request that carries an Idempotency-Key once on a fresh connection
	// when a reused connection fails this way, so a client may see one
	// reset as success; the partner records both requests.
	FaultReset
	// FaultCut processes the request, starts the response and drops the
	// connection midway through its headers: the connection died
	// mid-response, the client gets an error (unexpected EOF) and the
	// partner has done the work if the decided status was 2xx. Go's
	// transport never replays such a request by itself.
	FaultCut
)

var faultNames = [...]string{FaultNone: "none", FaultHang: "hang", FaultReset: "reset", FaultCut: "cut"}

// String returns the fault's name: "none", "hang", "reset" or "cut".
func (f Fault) String() string {
	if int(f) < len(faultNames) {
		return faultNames[f]
	}
	return fmt.Sprintf("fault(%d)", uint8(f))
}

// Body texts of the canned answers, for the classification rules of the
// code under test (classify.BodyContains).
const (
	// AlreadyProcessedText appears in the body of [AlreadyProcessed].
	AlreadyProcessedText = "already processed"
	// InvalidRecordText appears in the body of [InvalidRecord].
	InvalidRecordText = "invalid record"
)

// Status returns an answer with the given status code and an empty body.
func Status(code int) Response { return Response{Status: code} }

// Statuses returns one answer per status code, in order: a status sequence
// for [Rule].Responses.
func Statuses(codes ...int) []Response {
	out := make([]Response, len(codes))
	for i, c := range codes {
		out[i] = Response{Status: c}
	}
	return out
}

// AlreadyProcessed is a partner saying, in the body of a 200 OK, that it
// already holds the record (the sender had sent the data before but
// had not marked it as processed). It is marked Duplicate.
func AlreadyProcessed() Response {
	return Response{Status: http.StatusOK, Body: `{"status":"` + AlreadyProcessedText + `"}`, Duplicate: true}
}

// InvalidRecord is a partner rejecting the record itself with 400 Bad
// Request and a body naming the reason. Only a body rule tells it apart from
// any other 400.
func InvalidRecord(reason string) Response {
	b, _ := json.Marshal(map[string]string{"error": InvalidRecordText, "reason": reason}) // strings always marshal
	return Response{Status: http.StatusBadRequest, Body: string(b)}
}

// TooManyRequests is a 429 answer asking the client to wait retryAfter.
func TooManyRequests(retryAfter time.Duration) Response {
	return Response{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Body: `{"error":"rate limited"}`}
}

// Hang is an answer that never comes (FaultHang).
func Hang() Response { return Response{Fault: FaultHang} }

// Reset is a connection reset instead of an answer (FaultReset).
func Reset() Response { return Response{Fault: FaultReset} }

// Cut is a 200 OK whose connection dies mid-response (FaultCut): the
// partner processed the record but the client never hears so.
func Cut() Response { return Response{Fault: FaultCut} }

// status returns the status code the answer stands for.
func (r Response) status() int {
	if r.Status == 0 {
		return http.StatusOK
	}
	return r.Status
}

// processes reports whether giving this answer means the partner did the
// work: a 2xx that is not a duplicate, delivered or cut mid-response.
func (r Response) processes() bool {
	s := r.status()
	return s >= 200 && s <= 299 && !r.Duplicate && (r.Fault == FaultNone || r.Fault == FaultCut)
}

// holds reports whether the partner holds the record after this answer:
// it processed it now, or says it had it already.
func (r Response) holds() bool { return r.processes() || r.Duplicate }

func (r Response) validate(field string) error {
	switch {
	case r.Status != 0 && (r.Status < 100 || r.Status > 599):
		return fmt.Errorf("deliverytest: %s.Status %d is not an HTTP status", field, r.Status)
	case r.Status != 0 && r.Status < 200:
		return fmt.Errorf("deliverytest: %s.Status %d: informational statuses cannot be final answers", field, r.Status)
	case r.RetryAfter < 0:
		return fmt.Errorf("deliverytest: %s.RetryAfter must not be negative, got %v", field, r.RetryAfter)
	case r.Delay < 0:
		return fmt.Errorf("deliverytest: %s.Delay must not be negative, got %v", field, r.Delay)
	case int(r.Fault) >= len(faultNames):
		return fmt.Errorf("deliverytest: %s.Fault %d is not a Fault", field, uint8(r.Fault))
	}
	return nil
}
