package logging_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

func newDispatcher(t *testing.T, cfg delivery.DispatcherConfig) *delivery.Dispatcher {
	t.Helper()
	d, err := delivery.NewDispatcher(cfg)
	require.NoError(t, err)
	return d
}

func enqueue(t *testing.T, s delivery.Store, msgs ...delivery.Message) {
	t.Helper()
	_, err := s.Enqueue(context.Background(), msgs...)
	require.NoError(t, err)
}

func pl(id string) []byte { return []byte(`{"id":"` + id + `"}`) }

var (
	http503 = &classify.Error{Class: classify.ClassEphemeral, Status: 503}
	http422 = &classify.Error{Class: classify.ClassDiscard, Status: 422, Body: "candidate never completed"}
)
