package main

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// Result is a candidate's scored assessment, as the service produces it.
type Result struct {
	CandidateID  string    `json:"candidate_id"`
	AssessmentID string    `json:"assessment_id"`
	Score        int       `json:"score"`
	CompletedAt  time.Time `json:"completed_at"`
}

// message turns r into an outbox message: one per candidate and
// assessment (the idempotency key, so a resubmission is a no-op and a
// resend is recognised), ordered per candidate.
func (r Result) message() (delivery.Message, error) {
	if r.CandidateID == "" || r.AssessmentID == "" {
		return delivery.Message{}, errors.New("ats: a result needs a candidate and an assessment")
	}
	body, err := json.Marshal(r)
	if err != nil {
		return delivery.Message{}, err
	}
	id := r.CandidateID + "/" + r.AssessmentID
	return delivery.Message{ID: id, IdempotencyKey: id, Key: r.CandidateID, Destination: "scoring-api", Payload: body}, nil
}
