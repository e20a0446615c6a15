package scenario_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

// partnerRules classify the partner's special answers: an
// "already processed" body is a duplicate, an "invalid record" body or a
// 412 for a candidate who never completed the assessment is discarded.
var partnerRules = classify.HTTPRules{
	Statuses: map[int]classify.Class{
		http.StatusPreconditionFailed: classify.ClassDiscard,
	},
	Body: classify.FirstMatch(
		classify.BodyContains(deliverytest.AlreadyProcessedText, classify.ClassDuplicate),
		classify.BodyContains(deliverytest.InvalidRecordText, classify.ClassDiscard),
	),
}

// sender returns the HTTP deliverer of the scenarios: it POSTs each payload
// to the partner's /records through client, with the partner's rules.
func sender(t *testing.T, p *deliverytest.Partner, client *http.Client) *httpdelivery.Deliverer {
	t.Helper()
	d, err := httpdelivery.New(httpdelivery.Config{
		Client: client,
		Build:  httpdelivery.PostTo(p.URL+"/records", "application/json"),
		Rules:  partnerRules,
	})
	require.NoError(t, err)
	return d
}

// partnerClient returns a client to p with bounded connections.
func partnerClient(t *testing.T, p *deliverytest.Partner, maxConns int) *http.Client {
	t.Helper()
	c, err := p.NewClient(httpclient.Config{MaxConnsPerHost: maxConns})
	require.NoError(t, err)
	return c
}

func newDispatcher(t *testing.T, cfg delivery.DispatcherConfig) *delivery.Dispatcher {
	t.Helper()
	d, err := delivery.NewDispatcher(cfg)
	require.NoError(t, err)
	return d
}

// backlog returns n messages with ids prefix-00000, prefix-00001, ...; key,
// if not nil, gives each its ordering key.
func backlog(prefix string, n int, key func(i int) string) []delivery.Message {
	msgs := make([]delivery.Message, n)
	for i := range msgs {
		id := fmt.Sprintf("%s-%05d", prefix, i)
		msgs[i] = delivery.Message{ID: id, Payload: []byte(`{"id":"` + id + `"}`)}
		if key != nil {
			msgs[i].Key = key(i)
		}
	}
	return msgs
}

func enqueue(t *testing.T, s delivery.Store, msgs ...delivery.Message) {
	t.Helper()
	_, err := s.Enqueue(context.Background(), msgs...)
	require.NoError(t, err)
}

// drain runs d until a run claims nothing, and returns the runs' reports.
func drain(t *testing.T, d *delivery.Dispatcher) []delivery.Report {
	t.Helper()
	var reps []delivery.Report
	for {
		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		reps = append(reps, rep)
		if rep.Claimed == 0 {
			return reps
		}
	}
}

func stats(t *testing.T, s delivery.Store) delivery.Stats {
	t.Helper()
	st, err := s.Stats(context.Background())
	require.NoError(t, err)
	return st
}

func record(t *testing.T, s delivery.Store, id string) delivery.Record {
	t.Helper()
	r, err := s.Get(context.Background(), id)
	require.NoError(t, err)
	return r
}
