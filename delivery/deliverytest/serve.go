package deliverytest

import (
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/outbound-go/outbound/internal/saturate"
)

// unauthorized is the answer to a request without a valid token.
var unauthorized = Response{
	Status: http.StatusUnauthorized,
	Header: map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`},
	Body:   `{"error":"invalid_token"}`,
}

// serve routes a request to the health endpoint, the token endpoint or the
// API.
func (p *Partner) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == p.cfg.HealthPath:
		p.serveHealth(w)
	case r.URL.Path == p.cfg.TokenPath && p.cfg.Issuer != nil:
		p.cfg.Issuer.ServeHTTP(w, r)
	default:
		p.serveAPI(w, r)
	}
}

// serveHealth answers a health check from the outage state, unless
// flapping cuts it.
func (p *Partner) serveHealth(w http.ResponseWriter) {
	p.mu.Lock()
	down := p.downLocked(time.Now())
	flapped := p.flapLocked(&p.flapHealth)
	p.stats.HealthChecks++
	if down || flapped {
		p.stats.HealthFailures++
	}
	p.mu.Unlock()
	resp := Response{Status: http.StatusOK, Body: `{"status":"ok"}`}
	if down {
		resp = Response{Status: http.StatusServiceUnavailable, Body: `{"status":"down"}`}
	}
	if flapped {
		cut(w, resp.status())
		return
	}
	write(w, resp)
}

// serveAPI records an API request, decides its answer, and gives it.
func (p *Partner) serveAPI(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, saturateInc(p.cfg.MaxBody)))
	if err != nil {
		return // the client went away while sending
	}
	auth, token := parseAuth(r.Header.Get("Authorization"))
	if p.cfg.Issuer != nil && token != "" {
		auth.Valid = p.cfg.Issuer.Valid(token)
	}
	now := time.Now()
	req := &Request{
		Received:       now,
		Method:         r.Method,
		Path:           r.URL.Path,
		Query:          r.URL.RawQuery,
		Header:         withoutSecrets(r.Header),
		IdempotencyKey: r.Header.Get(p.cfg.IdempotencyHeader),
		CorrelationID:  r.Header.Get(p.cfg.CorrelationHeader),
		Body:           body,
		Auth:           auth,
	}
	req.Conn, _ = r.Context().Value(connKey{}).(int)

	p.mu.Lock()
	down := p.downLocked(now)
	p.stats.Requests++
	req.Seq = p.stats.Requests
	if req.Seq == p.cfg.Outage.AfterRequests {
		p.afterAt = now
	}
	p.reqs = append(p.reqs, req)
	p.inflight++
	p.stats.PeakInFlight = max(p.stats.PeakInFlight, p.inflight)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inflight--
		req.Finished = time.Now()
		p.mu.Unlock()
	}()

	resp, outage, unauth := p.decide(req, down, int64(len(body)) > p.cfg.MaxBody)
	wait := resp.Delay
	if !outage && !unauth {
		wait = saturate.Add(wait, p.cfg.Latency)
	}
	p.mu.Lock()
	flapped := p.flapLocked(&p.flapAPI)
	p.mu.Unlock()

	gone := p.wait(r.Context(), wait)
	fault := resp.Fault
	if flapped && fault == FaultNone {
		fault = FaultCut
	}
	p.settle(req, resp, outage, unauth, flapped, gone != nil)

	switch {
	case gone == p.closing:
		drop(w, false)
	case gone != nil:
	case fault == FaultHang:
		select {
		case <-r.Context().Done():
			p.mu.Lock()
			req.GaveUp = true
			p.stats.GaveUp++
			p.mu.Unlock()
		case <-p.closing:
			drop(w, false)
		}
	case fault == FaultReset:
		drop(w, true)
	case fault == FaultCut:
		cut(w, resp.status())
	default:
		write(w, resp)
	}
}

// decide picks the answer to req, in the order PartnerConfig documents.
func (p *Partner) decide(req *Request, down, tooLarge bool) (resp Response, outage, unauth bool) {
	switch {
	case down:
		return p.cfg.Outage.Response, true, false
	case tooLarge:
		return Response{Status: http.StatusRequestEntityTooLarge}, false, false
	case p.cfg.Issuer != nil && !req.Auth.Valid:
		return unauthorized, false, true
	}
	if p.cfg.Webhooks != nil {
		if resp, refused := p.checkSignature(req); refused {
			return resp, false, false
		}
	}
	key := req.IdempotencyKey
	if p.cfg.Idempotent && key != "" && p.Holds(key) {
		return AlreadyProcessed(), false, false
	}
	// Match outside the lock (Match is user code), then consume the
	// sequence of the first matching rule that still answers.
	view := req.clone()
	matched := make([]bool, len(p.rules))
	for i := range p.rules {
		matched[i] = p.rules[i].rule.matches(&view)
	}
	p.mu.Lock()
	for i, m := range matched {
		if !m {
			continue
		}
		if resp, ok := p.rules[i].next(key); ok {
			p.mu.Unlock()
			return resp, false, false
		}
	}
	p.mu.Unlock()
	if p.cfg.Respond != nil {
		if resp, ok := p.cfg.Respond(&view); ok {
			if err := resp.validate("Respond"); err == nil {
				return resp, false, false
			}
			return Response{Status: http.StatusInternalServerError, Body: "deliverytest: Respond returned an invalid Response"}, false, false
		}
	}
	return p.cfg.Default, false, false
}

// wait holds the answer back for d. It returns nil when the time is up, the
// client's done channel when the client went away, or p.closing when the
// partner is closing.
func (p *Partner) wait(ctx context.Context, d time.Duration) <-chan struct{} {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Done()
	case <-p.closing:
		return p.closing
	}
}

// settle writes the outcome into the request's record and the books.
func (p *Partner) settle(req *Request, resp Response, outage, unauth, flapped, gaveUp bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	req.Answer = resp
	req.Status = resp.status()
	req.Outage = outage
	req.Unauthorized = unauth
	req.Flapped = flapped
	req.GaveUp = gaveUp
	switch {
	case gaveUp:
		p.stats.GaveUp++
		return
	case outage:
		p.stats.OutageAnswers++
	case unauth:
		p.stats.Unauthorized++
	}
	if resp.Fault != FaultNone || flapped {
		p.stats.Faults++
	}
	if flapped {
		p.stats.Flapped++
	}
	if resp.Duplicate {
		p.stats.Duplicates++
	}
	key := req.IdempotencyKey
	if resp.processes() {
		if p.cfg.Webhooks != nil {
			p.signed[signedKey(req.Header)] = true
		}
		req.Processed = true
		p.stats.Processed++
		if key != "" {
			p.processed[key]++
			if p.processed[key] == 2 {
				p.stats.Reprocessed++
			}
		}
	}
	if resp.holds() && key != "" && !p.held[key] {
		p.held[key] = true
		p.heldOrder = append(p.heldOrder, key)
		p.stats.Delivered++
	}
}

// write gives a normal answer.
func write(w http.ResponseWriter, resp Response) {
	h := w.Header()
	if resp.Body != "" {
		if strings.HasPrefix(resp.Body, "{") || strings.HasPrefix(resp.Body, "[") {
			h.Set("Content-Type", "application/json")
		} else {
			h.Set("Content-Type", "text/plain; charset=utf-8")
		}
	}
	if resp.RetryAfter > 0 {
		secs := resp.RetryAfter / time.Second // rounded up, without overflow
		if resp.RetryAfter%time.Second != 0 {
			secs++
		}
		h.Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	}
	for k, v := range resp.Header {
		h.Set(k, v)
	}
	w.WriteHeader(resp.status())
	_, _ = io.WriteString(w, resp.Body)
}

// drop closes the request's connection without answering; with reset, a
// TCP connection is reset (RST) rather than closed.
func drop(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(interface{ SetLinger(int) error }); ok && reset {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// cut starts an answer with the given status and closes the connection in
// the middle of its headers, so the client reads a status line and then an
// unexpected EOF.
func cut(w http.ResponseWriter, status int) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	_, _ = buf.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\nContent-Type: appl")
	_ = buf.Flush()
	_ = conn.Close()
}

// saturateInc returns n+1, or n when n+1 would overflow: one byte more
// than MaxBody tells an over-long body from one of exactly MaxBody.
func saturateInc(n int64) int64 {
	if n == math.MaxInt64 {
		return n
	}
	return n + 1
}
