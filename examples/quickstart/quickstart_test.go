package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/internal/testenv"
)

// servers are the servers this build's tests need (PostgreSQL when the
// PostgreSQL outbox is built in); their skips are announced.
var servers []testenv.Server

func TestMain(m *testing.M) {
	testenv.AnnounceSkips(servers...)
	goleak.VerifyTestMain(m)
}

// small is a quick configuration for tests: one throttling burst at crm
// and a short outage at webhooks.
func small() config {
	return config{
		records: 400, concurrency: 8, maxConns: 4, unit: 5 * time.Millisecond,
		outage: 300 * time.Millisecond, outageAfter: 40, throttles: 1, throttleEvery: 40,
		latency: time.Millisecond, timeout: time.Minute, progress: progressLines,
	}
}

func TestQuickstartEndToEnd(t *testing.T) {
	var out bytes.Buffer
	cfg := small()
	sum, err := run(context.Background(), cfg, &out)
	require.NoError(t, err, out.String())
	assertSummary(t, cfg, sum, out.String())
}

func assertSummary(t *testing.T, cfg config, sum *summary, out string) {
	t.Helper()
	assert.Equal(t, cfg.records, sum.delivered+sum.discarded+sum.dead, "every record settled")
	assert.Zero(t, sum.unsettled)
	assert.Equal(t, sum.expectInvalid, sum.discarded)
	assert.Equal(t, sum.expectNoCredit, sum.dead)
	assert.Len(t, sum.deadLetters, sum.dead)
	for _, r := range sum.deadLetters {
		assert.Contains(t, r.LastAttempt.Error, "insufficient credit", "the reason is shown")
	}
	assert.GreaterOrEqual(t, sum.duplicates, sum.expectKnown)
	assert.Equal(t, sum.delivered, sum.partnerHolds)
	assert.Empty(t, sum.missing)
	assert.Equal(t, 1, sum.tokens, "one token for the whole run")
	assert.Less(t, sum.conns*4, sum.requests, "keep-alive: connections are reused")
	assert.Positive(t, sum.retryCauses["http_503"], "records failed once were retried")
	assert.Positive(t, sum.throttled, "crm throttled")
	assert.Positive(t, sum.outageTil, "webhooks' outage happened")

	require.Len(t, sum.dests, 3)
	byName := map[string]*destSummary{}
	for _, d := range sum.dests {
		byName[d.name] = d
		assert.Equal(t, d.records, d.delivered+d.discarded+d.dead, "%s: every record settled", d.name)
		assert.Zero(t, d.unsettled, d.name)
		assert.Equal(t, d.expectInvalid, d.discarded, d.name)
		assert.Equal(t, d.expectNoCredit, d.dead, "%s: only records refused for lack of credit are dead", d.name)
		assert.Equal(t, d.delivered, d.holds, "%s holds every record delivered to it", d.name)
		assert.Zero(t, d.whilePaused, "%s received no request while paused", d.name)
		if d.name != webhooks { // a request cut by webhooks' outage may be resent by the transport
			assert.Equal(t, d.requests, d.sent, "%s received every request the dispatcher sent, and nothing else", d.name)
		}
		// Only a replacement for a connection the transport declined to
		// reuse can take a partner's count past the limit.
		assert.LessOrEqual(t, d.peakConns, cfg.maxConns+max(sum.conns-3*cfg.maxConns, 0), d.name)
		var sum time.Duration
		for _, w := range d.pauses {
			assert.True(t, w.until.After(w.from), "%s: pauses last", d.name)
			sum += w.until.Sub(w.from)
		}
		assert.Equal(t, sum, d.paused, d.name)
	}
	assert.Equal(t, cfg.records, byName[ats].records+byName[crm].records+byName[webhooks].records, "the records are spread over the three")
	for _, d := range sum.dests {
		assert.Greater(t, d.records, cfg.records/4, "%s has its share", d.name)
	}

	crmSum := byName[crm]
	require.NotEmpty(t, crmSum.pauses, "crm's 429 paused it")
	assert.Contains(t, crmSum.causes, "http_429")
	// The pause the store keeps ends a second (crm's Retry-After) after
	// the answer, so at least a second after the 429's request arrived.
	// (The window the summary shows starts when the dispatcher reported
	// the pause, which can lag the answer by hundreds of milliseconds
	// under the race detector on a loaded machine.)
	assert.GreaterOrEqual(t, crmSum.pauses[0].until.Sub(crmSum.firstThrottle), time.Second, "for its Retry-After of a second")
	assert.Positive(t, crmSum.deferred+crmSum.throttled)

	wh := byName[webhooks]
	assert.Zero(t, wh.dead, "no record of the down partner is dead-lettered")
	require.NotEmpty(t, wh.pauses, "refused connections paused webhooks")
	assert.Contains(t, wh.causes, "conn_refused")
	assert.Equal(t, wh.records, wh.delivered+wh.discarded, "every record of the down partner arrived in the end")

	assert.Contains(t, out, fmt.Sprintf("all %d accounted for", cfg.records))
	assert.Contains(t, out, "settled:", "progress lines were shown")
	assert.Contains(t, out, "By destination:")
	assert.Regexp(t, `(?m)^  webhooks +\d+ +\d+ +\d+ +0 +\d+  \d+\.\d+s, \d+× \(.*conn_refused.*\) +\d+ +0$`, out, "a line per destination")
	assert.Regexp(t, `(?m)^  crm +\d+ +\d+ +\d+ +0 +\d+  \d+\.\d+s, 1× \(http_429\) +\d+ +0$`, out)
}

func TestQuickstartGivesUpAndFails(t *testing.T) {
	cfg := small()
	cfg.outage, cfg.timeout = time.Hour, 500*time.Millisecond
	var out bytes.Buffer
	sum, err := run(context.Background(), cfg, &out)
	require.Error(t, err, "records left unsettled fail the run")
	assert.Contains(t, err.Error(), "gave up after -timeout")
	assert.Contains(t, err.Error(), "never settled")
	assert.Positive(t, sum.unsettled)
	assert.Contains(t, out.String(), "NOT SETTLED")
	assert.Contains(t, out.String(), "UNACCOUNTED FOR")
	for _, d := range sum.dests {
		if d.name == webhooks {
			assert.Positive(t, d.unsettled, "webhooks' records wait for it")
			assert.Zero(t, d.dead, "and are not dead-lettered")
		}
	}
}

func TestSummaryCheck(t *testing.T) {
	good := func() summary {
		return summary{records: 10, delivered: 7, duplicates: 1, discarded: 2, dead: 1, partnerHolds: 7,
			expectInvalid: 2, expectNoCredit: 1, expectKnown: 1,
			dests: []*destSummary{
				{name: ats, records: 5, delivered: 3, discarded: 1, dead: 1, holds: 3, expectNoCredit: 1},
				{name: webhooks, records: 5, delivered: 4, discarded: 1, holds: 4},
			}}
	}
	s := good()
	require.NoError(t, s.check())
	cases := map[string]func(s *summary){
		"unknown to the partner":                   func(s *summary) { s.missing = []string{"cand-0001-started"} },
		"the partners hold 8":                      func(s *summary) { s.partnerHolds = 8 },
		"holds 9 of the 10":                        func(s *summary) { s.delivered, s.partnerHolds = 6, 6 },
		"never settled":                            func(s *summary) { s.delivered, s.unsettled, s.partnerHolds = 6, 1, 6 },
		"rejected 3 as invalid":                    func(s *summary) { s.expectInvalid = 3 },
		"the partners refused 2":                   func(s *summary) { s.expectNoCredit = 2 },
		"already had 2":                            func(s *summary) { s.expectKnown = 2 },
		"webhooks received 1 request while paused": func(s *summary) { s.dests[1].whilePaused = 1 },
		"webhooks holds 5 records":                 func(s *summary) { s.dests[1].holds = 5 },
		"1 records for webhooks dead-lettered":     func(s *summary) { s.dests[1].dead = 1 },
	}
	for want, spoil := range cases {
		s := good()
		spoil(&s)
		assert.ErrorContains(t, s.check(), want)
	}

	s = good()
	s.dests[1].whilePaused = 2
	var out bytes.Buffer
	s.print(&out)
	assert.Contains(t, out.String(), "all 10 accounted for", "a request sent while paused loses no record")
	assert.Contains(t, out.String(), "SENT WHILE PAUSED: webhooks received 2 requests while paused")
	assert.Regexp(t, `(?m)^  webhooks +5 +4 +1 +0 +0  never +0 +2$`, out.String())
}

func TestPauseWindows(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	paused := func(from, until int, cause string) destinationChange {
		return destinationChange{DestinationEvent: delivery.DestinationEvent{Change: delivery.DestinationPausedChange, Until: at(until), Cause: cause}, at: at(from)}
	}
	resumed := func(ms int) destinationChange {
		return destinationChange{DestinationEvent: delivery.DestinationEvent{Change: delivery.DestinationResumedChange}, at: at(ms)}
	}
	failed := paused(50, 5000, "http_429")
	failed.StoreErr = errors.New("store down")
	disabled := destinationChange{DestinationEvent: delivery.DestinationEvent{Change: delivery.DestinationDisabledChange, Cause: "gone"}, at: at(2000)}

	ws := pauseWindows([]destinationChange{
		paused(0, 1000, "http_429"),
		failed,                           // the store did not record it: no pause
		paused(10, 1200, "conn_refused"), // extends the first
		resumed(1300),                    // after the end: changes nothing
		paused(1500, 2500, "conn_refused"),
		resumed(1800), // cuts it short
		disabled,      // lasts until the end
	}, at(3000))
	require.Len(t, ws, 3)
	assert.Equal(t, window{from: at(0), until: at(1200), causes: []string{"http_429", "conn_refused"}}, ws[0])
	assert.Equal(t, window{from: at(1500), until: at(1800), causes: []string{"conn_refused"}}, ws[1])
	assert.Equal(t, window{from: at(2000), until: at(3000), causes: []string{"gone"}}, ws[2])

	clipped := pauseWindows([]destinationChange{paused(0, 1000, "http_429"), paused(2000, 3000, "dns")}, at(500))
	assert.Equal(t, []window{{from: at(0), until: at(500), causes: []string{"http_429"}}}, clipped, "clipped to the end of the run")
	assert.Empty(t, pauseWindows(nil, at(500)))
}

func TestDuringPauses(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	req := func(sent, received int) deliverytest.Request {
		h := http.Header{}
		h.Set(sentHeader, strconv.FormatInt(at(sent).UnixNano(), 10))
		return deliverytest.Request{Header: h, Received: at(received)}
	}
	pauses := []window{{from: at(100), until: at(200)}, {from: at(500), until: at(600)}}
	for name, c := range map[string]struct {
		reqs               []deliverytest.Request
		whilePaused, onWay int
	}{
		"before, between and after":  {reqs: []deliverytest.Request{req(10, 11), req(300, 301), req(700, 701)}},
		"the probe at a pause's end": {reqs: []deliverytest.Request{req(200, 200), req(600, 601)}},
		"sent during a pause":        {reqs: []deliverytest.Request{req(150, 151), req(599, 601), req(500, 500)}, whilePaused: 2},
		"already on its way":         {reqs: []deliverytest.Request{req(99, 101), req(450, 550)}, onWay: 2},
		"no header: by arrival":      {reqs: []deliverytest.Request{{Received: at(150)}}, whilePaused: 1},
	} {
		w, o := duringPauses(c.reqs, pauses)
		assert.Equal(t, c.whilePaused, w, "%s: while paused", name)
		assert.Equal(t, c.onWay, o, "%s: on their way", name)
	}
}

func TestPlugRefusesConnectionsWhilePulled(t *testing.T) {
	partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{})
	p, err := newPlug(partner.DialContext)
	require.NoError(t, err)
	defer p.close()
	client, err := httpclient.New(httpclient.Config{})
	require.NoError(t, err)
	defer client.CloseIdleConnections()
	get := func() error {
		resp, err := client.Get(p.URL() + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	require.NoError(t, get())
	p.pull()
	client.CloseIdleConnections()
	err = get()
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the port refuses connections")
	require.NoError(t, p.restore())
	require.NoError(t, get(), "the same port answers again")
	assert.Equal(t, 2, partner.Stats().HealthChecks)
}

func TestFlags(t *testing.T) {
	var help bytes.Buffer
	_, err := parseFlags([]string{"-h"}, &help)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, name := range []string{"records", "concurrency", "max-conns", "backoff-unit", "outage", "outage-after",
		"throttles", "throttle-every", "latency", "rate", "store", "postgres", "keep", "timeout", "progress"} {
		assert.Regexp(t, `(?m)^  -`+name+`( \w+)?\n\s+\S`, help.String(), "-h explains -%s", name)
	}

	cfg, err := parseFlags([]string{"-records", "50", "-backoff-unit", "1ms", "-progress", "off", "-throttles", "0"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 50, cfg.records)
	assert.Equal(t, time.Millisecond, cfg.unit)
	assert.Equal(t, progressOff, cfg.progress)
	assert.Zero(t, cfg.throttles)
	assert.Equal(t, 16, cfg.concurrency, "defaults")
	assert.Equal(t, 100, cfg.throttleEvery, "defaults")

	for _, bad := range [][]string{
		{"-records", "0"}, {"-concurrency", "0"}, {"-max-conns", "-1"}, {"-backoff-unit", "0s"},
		{"-outage", "-1s"}, {"-outage-after", "-1"}, {"-throttles", "-1"}, {"-throttle-every", "0"},
		{"-latency", "-1ms"}, {"-rate", "-5"}, {"-timeout", "0s"}, {"-progress", "fancy"}, {"-no-such-flag"},
	} {
		var stderr bytes.Buffer
		_, err := parseFlags(bad, &stderr)
		require.Error(t, err, "%v", bad)
		assert.False(t, errors.Is(err, flag.ErrHelp))
		flagName := strings.TrimPrefix(bad[0], "-")
		assert.Contains(t, stderr.String(), flagName, "the error names the flag %s", bad[0])
	}
}

func TestThrottleBursts(t *testing.T) {
	th := &throttle{every: 3, window: time.Second, bursts: 2}
	t0 := time.Now()
	var got []bool
	for _, ms := range []int{0, 10, 20, 30, 500, 999, 1030, 1040, 1050, 1060, 1070, 1080, 2000, 3000, 3010, 3020} {
		got = append(got, th.throttles(&deliverytest.Request{Received: t0.Add(time.Duration(ms) * time.Millisecond)}))
	}
	assert.Equal(t, []bool{
		false, false, false, true, true, true, // three accepted, then a second of 429s
		false, false, false, true, // three more from its end, then the second burst
		true, true, true, // within it until 2060ms
		false, false, false, // no bursts left
	}, got)
}
