package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// fakeAPI is a stand-in for the scoring API when no -api is given: it
// speaks the same special status codes and demands the same kind of token.
type fakeAPI struct {
	partner *deliverytest.Partner
	issuer  *tokentest.Issuer
}

// The fake API's credentials.
const (
	fakeClientID     = "koru-ats"
	fakeClientSecret = "demo-secret"
)

// fakeCase is what the fake API does with candidate number i.
func fakeCase(i int) int {
	switch {
	case i%20 == 3:
		return http.StatusConflict // sent before, never marked processed
	case i%25 == 7:
		return http.StatusUnprocessableEntity
	case i%30 == 11:
		return http.StatusPreconditionFailed
	case i%10 == 5:
		return http.StatusInternalServerError // once, then accepted
	}
	return http.StatusOK
}

func candidateID(i int) string { return fmt.Sprintf("cand-%05d", i) }

func newFakeAPI(outageAfter int, outage, latency time.Duration) (*fakeAPI, error) {
	issuer := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: time.Hour, ClientID: fakeClientID, ClientSecret: fakeClientSecret})
	answer := func(status int, body string) []deliverytest.Response {
		return []deliverytest.Response{{Status: status, Body: body}}
	}
	cfg := deliverytest.PartnerConfig{
		Issuer:  issuer,
		Latency: latency,
		Rules: []deliverytest.Rule{
			{Match: candidate(http.StatusConflict), Repeat: true, Responses: answer(http.StatusConflict, `{"error":"result already recorded"}`)},
			{Match: candidate(http.StatusUnprocessableEntity), Repeat: true, Responses: answer(http.StatusUnprocessableEntity, `{"error":"invalid record: unknown assessment"}`)},
			{Match: candidate(http.StatusPreconditionFailed), Repeat: true, Responses: answer(http.StatusPreconditionFailed, `{"error":"candidate has not completed the assessment"}`)},
			{Match: candidate(http.StatusInternalServerError), PerKey: true, Responses: answer(http.StatusInternalServerError, `{"error":"internal error"}`)},
		},
	}
	if outage > 0 {
		cfg.Outage = deliverytest.Outage{AfterRequests: outageAfter, For: outage}
	}
	p, err := deliverytest.NewPartner(cfg)
	if err != nil {
		return nil, err
	}
	return &fakeAPI{partner: p, issuer: issuer}, nil
}

// candidate matches requests for candidates whose case is status.
func candidate(status int) func(*deliverytest.Request) bool {
	return func(r *deliverytest.Request) bool {
		var i int
		rest, ok := strings.CutPrefix(r.Path, "/v1/candidates/cand-")
		if !ok {
			return false
		}
		if _, err := fmt.Sscanf(rest, "%d/results", &i); err != nil {
			return false
		}
		return fakeCase(i) == status
	}
}
