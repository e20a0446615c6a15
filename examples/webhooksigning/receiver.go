package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/outbound-go/outbound/delivery/webhook"
)

// attempt is one signed request as the receiver saw it.
type attempt struct {
	id, timestamp, signature string
	body                     []byte
}

// receiver is the partner's webhook endpoint: it verifies every request,
// answers failOnce's first attempt 503, and processes each webhook-id once
// (the specification's advice: webhook-id is the idempotency key).
type receiver struct {
	url      string
	failOnce string
	verifier *webhook.Verifier
	srv      *http.Server
	served   chan error
	client   *http.Client

	mu        sync.Mutex
	attempts  map[string][]attempt
	processed map[string]bool
	rejected  int
	reasons   []string
}

func startReceiver(keys []webhook.Key, failOnce string) (*receiver, error) {
	v, err := webhook.NewVerifier(webhook.VerifierConfig{Keys: keys})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{
		url: "http://" + ln.Addr().String(), failOnce: failOnce, verifier: v,
		served: make(chan error, 1), client: &http.Client{Transport: &http.Transport{}},
		attempts: make(map[string][]attempt), processed: make(map[string]bool),
	}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve)}
	go func() { r.served <- r.srv.Serve(ln) }()
	return r, nil
}

func (r *receiver) close() {
	r.client.CloseIdleConnections()
	_ = r.srv.Close()
	<-r.served
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := r.verifier.VerifyRequest(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.rejected++
		r.reasons = append(r.reasons, err.Error())
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	id := req.Header.Get(webhook.HeaderID)
	r.attempts[id] = append(r.attempts[id], attempt{
		id: id, timestamp: req.Header.Get(webhook.HeaderTimestamp), signature: req.Header.Get(webhook.HeaderSignature),
		body: body,
	})
	switch {
	case id == r.failOnce && len(r.attempts[id]) == 1:
		http.Error(w, "try again later", http.StatusServiceUnavailable)
	case r.processed[id]:
		w.WriteHeader(http.StatusOK) // already processed: acknowledge, do nothing
	default:
		r.processed[id] = true
		w.WriteHeader(http.StatusNoContent)
	}
}

// books returns how many webhooks were processed, how many verified
// attempts arrived, and the attempts of id.
func (r *receiver) books(id string) (processed, attempts int, of []attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.attempts {
		attempts += len(a)
	}
	return len(r.processed), attempts, append([]attempt(nil), r.attempts[id]...)
}

func (r *receiver) rejectedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rejected
}

// outcome is the receiver's answer to a request sent by hand.
type outcome struct {
	status    int
	reason    string
	processed bool
}

// forge resends the retried event's last attempt with one byte of its body
// changed, as an attacker who captured it might.
func (r *receiver) forge(ctx context.Context) (outcome, error) {
	a := r.last(r.failOnce)
	if a == nil {
		return outcome{}, errors.New("nothing captured to forge")
	}
	body := bytes.Clone(a.body)
	body[len(body)-3] ^= 1
	o, err := r.resend(ctx, a, body)
	r.mu.Lock()
	if len(r.reasons) > 0 {
		o.reason = r.reasons[len(r.reasons)-1]
	}
	r.mu.Unlock()
	return o, err
}

// replay resends the retried event's last attempt unchanged.
func (r *receiver) replay(ctx context.Context) (outcome, error) {
	a := r.last(r.failOnce)
	if a == nil {
		return outcome{}, errors.New("nothing captured to replay")
	}
	o, err := r.resend(ctx, a, a.body)
	o.processed = o.status == http.StatusNoContent // 204 is the answer of a first processing
	return o, err
}

func (r *receiver) last(id string) *attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	as := r.attempts[id]
	if len(as) == 0 {
		return nil
	}
	a := as[len(as)-1]
	return &a
}

func (r *receiver) resend(ctx context.Context, a *attempt, body []byte) (outcome, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+"/hooks", bytes.NewReader(body))
	if err != nil {
		return outcome{}, err
	}
	req.Header.Set(webhook.HeaderID, a.id)
	req.Header.Set(webhook.HeaderTimestamp, a.timestamp)
	req.Header.Set(webhook.HeaderSignature, a.signature)
	resp, err := r.client.Do(req)
	if err != nil {
		return outcome{}, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return outcome{status: resp.StatusCode, reason: strings.TrimSpace(resp.Status)}, nil
}
