package deliverytest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// rules classify the canned body answers.
var rules = classify.HTTPRules{Body: classify.FirstMatch(
	classify.BodyContains(deliverytest.AlreadyProcessedText, classify.ClassDuplicate),
	classify.BodyContains(deliverytest.InvalidRecordText, classify.ClassDiscard),
)}

func sendTo(t *testing.T, p *deliverytest.Partner, client *http.Client, path string) func(id string) error {
	t.Helper()
	if client == nil {
		client = p.Client()
	}
	d, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(p.URL+path, "application/json"), Rules: rules})
	require.NoError(t, err)
	return func(id string) error {
		return d.Deliver(context.Background(), &delivery.Message{ID: id, CorrelationID: "corr-" + id, Payload: []byte(`{"id":"` + id + `"}`)})
	}
}

// both runs f against a partner on loopback TCP and one in memory.
func both(t *testing.T, f func(t *testing.T, inMemory bool)) {
	t.Run("TCP", func(t *testing.T) { f(t, false) })
	t.Run("InMemory", func(t *testing.T) { f(t, true) })
}

func TestPartnerRules(t *testing.T) {
	both(t, func(t *testing.T, mem bool) {
		p := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
			InMemory: mem,
			Rules: []deliverytest.Rule{
				{Key: "twice", Responses: deliverytest.Statuses(503, 502)},
				{KeyPrefix: "bad-", Responses: []deliverytest.Response{deliverytest.InvalidRecord("no email")}, Repeat: true},
				{Key: "dup", Responses: []deliverytest.Response{deliverytest.AlreadyProcessed()}, Repeat: true},
				{Path: "/v2/*", Responses: deliverytest.Statuses(410), Repeat: true},
				{BodyContains: `"id":"body-`, Responses: deliverytest.Statuses(418), Repeat: true},
				{Match: func(r *deliverytest.Request) bool { return strings.HasSuffix(r.IdempotencyKey, "-each") },
					Responses: deliverytest.Statuses(500), PerKey: true},
				{Method: http.MethodGet, Responses: deliverytest.Statuses(405), Repeat: true},
			},
			Respond: func(r *deliverytest.Request) (deliverytest.Response, bool) {
				if r.IdempotencyKey == "custom" {
					return deliverytest.Response{Status: http.StatusAccepted, Body: "custom"}, true
				}
				return deliverytest.Response{}, false
			},
			Default: deliverytest.Response{Status: http.StatusCreated},
		})
		send := sendTo(t, p, nil, "/records")
		cases := []struct {
			id   string
			want classify.Class
			code int
		}{
			{"twice", classify.ClassEphemeral, 503},
			{"twice", classify.ClassEphemeral, 502},
			{"twice", classify.ClassOK, 201}, // the sequence is used up: the default answers
			{"bad-1", classify.ClassDiscard, 400},
			{"bad-1", classify.ClassDiscard, 400}, // repeats
			{"dup", classify.ClassDuplicate, 200},
			{"body-7", classify.ClassPermanent, 418},
			{"a-each", classify.ClassEphemeral, 500},
			{"b-each", classify.ClassEphemeral, 500}, // counted per key
			{"a-each", classify.ClassOK, 201},
			{"custom", classify.ClassOK, 202},
			{"plain", classify.ClassOK, 201},
		}
		for i, c := range cases {
			err := send(c.id)
			assert.Equal(t, c.want, classify.Of(err), "case %d (%s): %v", i, c.id, err)
		}
		assert.Equal(t, classify.ClassPermanent, classify.Of(sendTo(t, p, nil, "/v2/records")("v2")))

		reqs := p.Requests()
		require.Len(t, reqs, len(cases)+1)
		for i, c := range cases {
			assert.Equal(t, c.id, reqs[i].IdempotencyKey)
			assert.Equal(t, "corr-"+c.id, reqs[i].CorrelationID)
			assert.Equal(t, c.code, reqs[i].Status, "case %d (%s)", i, c.id)
			assert.Equal(t, i+1, reqs[i].Seq)
			assert.Equal(t, "/records", reqs[i].Path)
			assert.Equal(t, http.MethodPost, reqs[i].Method)
			assert.JSONEq(t, `{"id":"`+c.id+`"}`, string(reqs[i].Body))
			assert.False(t, reqs[i].Finished.IsZero())
		}
		assert.Equal(t, "/v2/records", reqs[len(cases)].Path)
		assert.Equal(t, 3, len(p.RequestsFor("twice")))

		// GET matches the method rule.
		resp, err := p.Client().Get(p.URL + "/records")
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	})
}

func TestPartnerBooks(t *testing.T) {
	both(t, func(t *testing.T, mem bool) {
		p := deliverytest.StartPartner(t, deliverytest.PartnerConfig{InMemory: mem, Rules: []deliverytest.Rule{
			{Key: "dup", Responses: []deliverytest.Response{deliverytest.AlreadyProcessed()}, Repeat: true},
			{Key: "bad", Responses: deliverytest.Statuses(400), Repeat: true},
			{Key: "cut", Responses: []deliverytest.Response{deliverytest.Cut()}},
		}})
		send := sendTo(t, p, nil, "/r")
		for _, id := range []string{"a", "b", "a", "dup", "bad", "cut", "cut"} {
			_ = send(id)
		}
		assert.Equal(t, 4, p.Delivered(), "a, b, dup and cut, by key: resends count once")
		assert.Equal(t, []string{"a", "b", "dup", "cut"}, p.DeliveredKeys())
		assert.Equal(t, 2, p.Processed("a"), "a partner without idempotency processes a resend again")
		assert.Equal(t, 0, p.Processed("dup"), "a duplicate answer processes nothing")
		assert.Equal(t, 2, p.Processed("cut"), "the cut request was processed before its answer was lost")
		assert.ElementsMatch(t, []string{"a", "cut"}, p.Reprocessed())
		assert.True(t, p.Holds("dup"))
		assert.False(t, p.Holds("bad"))
		st := p.Stats()
		assert.Equal(t, 7, st.Requests)
		assert.Equal(t, 5, st.Processed)
		assert.Equal(t, 2, st.Reprocessed)
		assert.Equal(t, 1, st.Duplicates)
		assert.Equal(t, 1, st.Faults)
	})
}

func TestPartnerIdempotent(t *testing.T) {
	p := deliverytest.StartPartner(t, deliverytest.PartnerConfig{Idempotent: true, Rules: []deliverytest.Rule{
		{Key: "cut", Responses: []deliverytest.Response{deliverytest.Cut()}},
	}})
	send := sendTo(t, p, nil, "/r")
	assert.NoError(t, send("a"))
	assert.Equal(t, classify.ClassDuplicate, classify.Of(send("a")), "a resend is answered as already processed")
	assert.Equal(t, classify.ClassEphemeral, classify.Of(send("cut")))
	assert.Equal(t, classify.ClassDuplicate, classify.Of(send("cut")), "the cut request had been processed")
	assert.Equal(t, 1, p.Processed("a"))
	assert.Equal(t, 1, p.Processed("cut"))
	assert.Empty(t, p.Reprocessed())
	assert.Equal(t, 2, p.Delivered())
}

func TestPartnerFaults(t *testing.T) {
	both(t, func(t *testing.T, mem bool) {
		p := deliverytest.StartPartner(t, deliverytest.PartnerConfig{InMemory: mem, Rules: []deliverytest.Rule{
			{Key: "hang", Responses: []deliverytest.Response{deliverytest.Hang()}, Repeat: true},
			{Key: "slow", Responses: []deliverytest.Response{{Delay: time.Hour}}, Repeat: true},
			{Key: "reset", Responses: []deliverytest.Response{deliverytest.Reset()}, Repeat: true},
			{Key: "cut", Responses: []deliverytest.Response{deliverytest.Cut()}, Repeat: true},
			{Key: "429", Responses: []deliverytest.Response{deliverytest.TooManyRequests(1500 * time.Millisecond)}, Repeat: true},
		}})
		// A fresh connection per request, so that Go's transport does not
		// replay a reset request on a new connection by itself.
		client, err := p.NewClient(httpclient.Config{Timeout: 200 * time.Millisecond})
		require.NoError(t, err)
		client.Transport.(*http.Transport).DisableKeepAlives = true
		send := sendTo(t, p, client, "/r")

		for _, id := range []string{"hang", "slow"} {
			err := send(id)
			assert.Equal(t, classify.ClassEphemeral, classify.Of(err), "%s: %v", id, err)
			assert.Equal(t, "deadline", classify.Cause(err), "%s: the client gave up: %v", id, err)
		}
		err = send("reset")
		assert.Equal(t, classify.ClassEphemeral, classify.Of(err), "%v", err)
		if mem {
			assert.Equal(t, "eof", classify.Cause(err), "in memory a reset is an abrupt close: %v", err)
		} else {
			assert.Contains(t, []string{"conn_reset", "eof"}, classify.Cause(err), "%v", err)
		}
		err = send("cut")
		assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
		assert.Equal(t, "eof", classify.Cause(err), "%v", err)
		err = send("429")
		assert.Equal(t, 429, classify.Status(err))
		ra, ok := classify.RetryAfter(err)
		assert.True(t, ok)
		assert.Equal(t, 2*time.Second, ra, "Retry-After is sent in whole seconds, rounded up")

		require.Eventually(t, func() bool { return p.Stats().GaveUp == 2 }, 5*time.Second, time.Millisecond,
			"the partner notices the client giving up on the hang and the slow answer")
		st := p.Stats()
		assert.Equal(t, 3, st.Faults, "hang, reset, cut")
		assert.Equal(t, 1, st.Processed, "only the cut request was processed")
		for _, r := range p.Requests() {
			switch r.IdempotencyKey {
			case "hang", "slow":
				assert.True(t, r.GaveUp, r.IdempotencyKey)
				assert.False(t, r.Processed)
			case "cut":
				assert.True(t, r.Processed)
			}
		}
	})
}

func TestPartnerOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
			InMemory: true,
			Outage:   deliverytest.Outage{At: time.Minute, AfterRequests: 2, For: time.Hour, Response: deliverytest.Response{Status: 502}},
		})
		send := sendTo(t, p, nil, "/r")
		health := func() int {
			resp, err := p.Client().Get(p.HealthURL())
			require.NoError(t, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == http.StatusOK {
				assert.JSONEq(t, `{"status":"ok"}`, string(body))
			}
			return resp.StatusCode
		}

		assert.NoError(t, send("1"))
		time.Sleep(2 * time.Minute)
		assert.False(t, p.Down(), "At has passed, but not AfterRequests")
		assert.Equal(t, http.StatusOK, health())
		assert.NoError(t, send("2"))
		assert.True(t, p.Down(), "the outage begins after the second request")
		assert.Equal(t, 502, classify.Status(send("3")))
		assert.Equal(t, http.StatusServiceUnavailable, health(), "the health endpoint fails during the outage")
		time.Sleep(time.Hour - time.Nanosecond)
		assert.True(t, p.Down())
		time.Sleep(time.Nanosecond)
		assert.False(t, p.Down(), "the outage lasts For")
		assert.NoError(t, send("3"))
		assert.Equal(t, http.StatusOK, health())

		p.SetDown(true)
		assert.Equal(t, 502, classify.Status(send("4")), "SetDown gives the outage answer")
		p.SetDown(false)
		assert.NoError(t, send("4"))

		st := p.Stats()
		assert.Equal(t, 2, st.OutageAnswers)
		assert.Equal(t, 3, st.HealthChecks)
		assert.Equal(t, 1, st.HealthFailures)
		for _, r := range p.Requests() {
			assert.Equal(t, r.Outage, r.Status >= 500, "request %d at %v", r.Seq, r.Received.Sub(start))
		}
	})
}

func TestPartnerFlapping(t *testing.T) {
	both(t, func(t *testing.T, mem bool) {
		p := deliverytest.StartPartner(t, deliverytest.PartnerConfig{InMemory: mem, FlapEvery: 2})
		send := sendTo(t, p, nil, "/r")
		var got []string
		for i := range 6 {
			got = append(got, classify.Cause(send(fmt.Sprint(i))))
		}
		assert.Equal(t, []string{"ok", "eof", "ok", "eof", "ok", "eof"}, got, "every other request dies mid-response")
		var health []int
		for range 4 {
			resp, err := p.Client().Get(p.HealthURL())
			if err != nil {
				health = append(health, 0)
				continue
			}
			_ = resp.Body.Close()
			health = append(health, resp.StatusCode)
		}
		assert.Equal(t, []int{200, 0, 200, 0}, health, "and every other health check")
		p.SetFlapping(0)
		for i := range 4 {
			assert.NoError(t, send(fmt.Sprint("after-", i)))
		}
		st := p.Stats()
		assert.Equal(t, 3, st.Flapped)
		assert.Equal(t, 2, st.HealthFailures)
		assert.Equal(t, 10, p.Delivered(), "flapped requests were processed: the answer was lost, not the work")
	})
}

func TestPartnerConnectionsAndInFlight(t *testing.T) {
	both(t, func(t *testing.T, mem bool) {
		p := deliverytest.StartPartner(t, deliverytest.PartnerConfig{InMemory: mem, Latency: 5 * time.Millisecond})
		client, err := p.NewClient(httpclient.Config{MaxConnsPerHost: 3})
		require.NoError(t, err)
		send := sendTo(t, p, client, "/r")
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Go(func() { assert.NoError(t, send(fmt.Sprint(i))) })
		}
		wg.Wait()
		st := p.Stats()
		assert.Equal(t, 60, st.Requests)
		// A connection the transport declines to reuse (it waits at most 50ms
		// for the previous write, which a loaded machine can miss) is closed
		// and replaced; the partner may count the replacement before it
		// notices the close.
		assert.LessOrEqual(t, st.PeakConnections, 3+max(st.Connections-3, 0))
		assert.Less(t, st.Connections, 30, "keep-alive connections are reused")
		assert.LessOrEqual(t, st.PeakInFlight, 3)
		assert.Greater(t, st.PeakInFlight, 1)
		assert.Equal(t, st.PeakConnections, p.PeakConnections())
		assert.Equal(t, st.PeakInFlight, p.PeakInFlight())
		conns := map[int]bool{}
		for _, r := range p.Requests() {
			conns[r.Conn] = true
		}
		assert.Len(t, conns, st.Connections, "Request.Conn names the connection")
	})
}

func TestPartnerIssuer(t *testing.T) {
	both(t, func(t *testing.T, mem bool) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{ClientID: "id", ClientSecret: "secret"})
		p := deliverytest.StartPartner(t, deliverytest.PartnerConfig{InMemory: mem, Issuer: iss})
		cache, err := tokencache.New(tokencache.ClientCredentials(iss.Config(p.TokenURL()), p.Client()), tokencache.Config{})
		require.NoError(t, err)
		defer cache.Close()

		bare := sendTo(t, p, nil, "/r")
		err = bare("no-token")
		assert.Equal(t, 401, classify.Status(err))

		client, err := p.NewClient(httpclient.Config{})
		require.NoError(t, err)
		client.Transport = &tokencache.Transport{Base: client.Transport, Cache: cache}
		authed := sendTo(t, p, client, "/r")
		for i := range 5 {
			require.NoError(t, authed(fmt.Sprint(i)))
		}
		assert.Equal(t, 1, iss.Mints())
		tok, err := cache.Token(context.Background())
		require.NoError(t, err)

		reqs := p.Requests()
		require.Len(t, reqs, 6)
		assert.Equal(t, "none", reqs[0].Auth.String())
		assert.True(t, reqs[0].Unauthorized)
		assert.False(t, reqs[0].Processed)
		for _, r := range reqs[1:] {
			assert.True(t, r.Auth.Valid)
			assert.Equal(t, "Bearer", r.Auth.Scheme)
			assert.Equal(t, reqs[1].Auth.Fingerprint, r.Auth.Fingerprint, "one token")
			assert.Empty(t, r.Header.Get("Authorization"), "the credential is not kept")
			dump := fmt.Sprintf("%v %+v %#v", r, r, r)
			assert.NotContains(t, dump, tok.Value, "no token in printed requests")
		}
		assert.Equal(t, 1, p.Stats().Unauthorized)
		assert.Equal(t, 5, p.Delivered())
	})
}

func TestPartnerClose(t *testing.T) {
	both(t, func(t *testing.T, mem bool) {
		p, err := deliverytest.NewPartner(deliverytest.PartnerConfig{InMemory: mem,
			Rules: []deliverytest.Rule{{Responses: []deliverytest.Response{deliverytest.Hang()}, Repeat: true}}})
		require.NoError(t, err)
		send := sendTo(t, p, nil, "/r")
		errc := make(chan error, 1)
		go func() { errc <- send("hang") }()
		require.Eventually(t, func() bool { return p.Stats().Requests == 1 }, 5*time.Second, time.Millisecond)
		p.Close()
		err = <-errc
		assert.Equal(t, classify.ClassEphemeral, classify.Of(err), "a hanging request is dropped when the partner closes: %v", err)
		p.Close() // idempotent
		_, err = p.DialContext(context.Background(), "tcp", "anywhere:80")
		assert.Error(t, err, "closed partners refuse connections")
		assert.Equal(t, classify.ClassEphemeral, classify.Of(send("after")))
	})
}

func TestPartnerConfigErrors(t *testing.T) {
	cases := map[string]deliverytest.PartnerConfig{
		"Rules[0].Responses is empty":     {Rules: []deliverytest.Rule{{Key: "x"}}},
		"Rules[1].Responses[0].Status 42": {Rules: []deliverytest.Rule{{Responses: deliverytest.Statuses(200)}, {Responses: deliverytest.Statuses(42)}}},
		"Rules[0].Path":                   {Rules: []deliverytest.Rule{{Path: "records", Responses: deliverytest.Statuses(200)}}},
		"Default.Delay":                   {Default: deliverytest.Response{Delay: -1}},
		"Default.Fault":                   {Default: deliverytest.Response{Fault: 9}},
		"Outage.Response.RetryAfter":      {Outage: deliverytest.Outage{Response: deliverytest.Response{RetryAfter: -time.Second}}},
		"Outage.For":                      {Outage: deliverytest.Outage{For: -time.Second}},
		"FlapEvery":                       {FlapEvery: -2},
		"Latency":                         {Latency: -time.Second},
		"HealthPath \"health\"":           {HealthPath: "health"},
		"HealthPath and TokenPath":        {HealthPath: "/x", TokenPath: "/x"},
		"informational":                   {Default: deliverytest.Status(101)},
	}
	for want, cfg := range cases {
		p, err := deliverytest.NewPartner(cfg)
		if !assert.Error(t, err, want) {
			p.Close()
			continue
		}
		assert.Contains(t, err.Error(), want)
		assert.True(t, strings.HasPrefix(err.Error(), "deliverytest: "), err.Error())
	}
	p := deliverytest.StartPartner(t, deliverytest.PartnerConfig{})
	_, err := p.NewClient(httpclient.Config{BlockPrivateAddresses: true})
	assert.ErrorContains(t, err, "BlockPrivateAddresses")
	_, err = p.NewClient(httpclient.Config{MaxConnsPerHost: -1})
	assert.Error(t, err)
}

func TestPartnerRulesAreCopied(t *testing.T) {
	rules := []deliverytest.Rule{{Responses: deliverytest.Statuses(503), Repeat: true}}
	p := deliverytest.StartPartner(t, deliverytest.PartnerConfig{Rules: rules})
	rules[0].Responses[0].Status = 200
	assert.Equal(t, 503, classify.Status(sendTo(t, p, nil, "/r")("a")), "changing the caller's rules after start changes nothing")
}

func TestRespondInvalidAnswer(t *testing.T) {
	p := deliverytest.StartPartner(t, deliverytest.PartnerConfig{Respond: func(*deliverytest.Request) (deliverytest.Response, bool) {
		return deliverytest.Response{Status: 7}, true
	}})
	err := sendTo(t, p, nil, "/r")("a")
	assert.Equal(t, 500, classify.Status(err))
	var ce *classify.Error
	require.True(t, errors.As(err, &ce))
	assert.Contains(t, ce.Body, "invalid Response")
}

func TestFaultString(t *testing.T) {
	assert.Equal(t, "none", deliverytest.FaultNone.String())
	assert.Equal(t, "hang", deliverytest.FaultHang.String())
	assert.Equal(t, "reset", deliverytest.FaultReset.String())
	assert.Equal(t, "cut", deliverytest.FaultCut.String())
	assert.Equal(t, "fault(9)", deliverytest.Fault(9).String())
}
