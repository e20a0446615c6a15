package delivery_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

func TestPrepareMessage(t *testing.T) {
	ctx := delivery.WithCorrelationID(context.Background(), "req-1")
	in := delivery.Message{Payload: []byte("body"), Headers: map[string]string{"X-Tenant": "a"}, Attempt: 3}
	m, err := delivery.PrepareMessage(ctx, in)
	require.NoError(t, err)
	assert.NotEmpty(t, m.ID, "an id is assigned")
	assert.Equal(t, "req-1", m.CorrelationID, "taken from the context")
	assert.Zero(t, m.Attempt)
	in.Payload[0], in.Headers["X-Tenant"] = 'B', "b"
	assert.Equal(t, "body", string(m.Payload), "the payload is a copy")
	assert.Equal(t, "a", m.Headers["X-Tenant"], "the headers are a copy")

	m, err = delivery.PrepareMessage(ctx, delivery.Message{ID: "own", CorrelationID: "mine", Payload: []byte("x")})
	require.NoError(t, err)
	assert.Equal(t, "own", m.ID)
	assert.Equal(t, "mine", m.CorrelationID, "a message's own id wins")

	m, err = delivery.PrepareMessage(context.Background(), delivery.Message{Payload: []byte("x")})
	require.NoError(t, err)
	assert.Empty(t, m.CorrelationID, "no id anywhere: left empty for the dispatcher to use the record id")

	bad := delivery.WithCorrelationID(context.Background(), "line\r\nbreak")
	m, err = delivery.PrepareMessage(bad, delivery.Message{Payload: []byte("x")})
	require.ErrorIs(t, err, delivery.ErrInvalid, "an id from the context is validated like a message's own")
	assert.Zero(t, m.ID)
	_, err = delivery.PrepareMessage(ctx, delivery.Message{})
	require.ErrorIs(t, err, delivery.ErrInvalid, "empty payload")
}

// CheckMatch tells a resend of the same message from another message that
// reuses its ID or its destination and idempotency key.
func TestCheckMatch(t *testing.T) {
	stored := delivery.Message{ID: "r-1", Destination: "ats", IdempotencyKey: "k", Key: "cand-1", Payload: []byte("v1"),
		CorrelationID: "req-1", Headers: map[string]string{"X-Tenant": "a"}}
	for _, tc := range []struct {
		name     string
		m        delivery.Message
		conflict string
	}{
		{"same message", stored, ""},
		{"same key, new id, other correlation and headers", delivery.Message{ID: "r-2", Destination: "ats", IdempotencyKey: "k", Payload: []byte("v1"), CorrelationID: "req-2"}, ""},
		{"same key, other payload", delivery.Message{ID: "r-2", Destination: "ats", IdempotencyKey: "k", Payload: []byte("v2")}, "different payload"},
		{"same id, other payload", delivery.Message{ID: "r-1", Destination: "ats", IdempotencyKey: "k", Payload: []byte("v2")}, "different payload"},
		{"same id, other destination", delivery.Message{ID: "r-1", Destination: "crm", IdempotencyKey: "k", Payload: []byte("v1")}, `destination "ats", not "crm"`},
		{"same id, other idempotency key", delivery.Message{ID: "r-1", Destination: "ats", IdempotencyKey: "k2", Payload: []byte("v1")}, `idempotency key "k", not "k2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := delivery.CheckMatch(&tc.m, &stored)
			if tc.conflict == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, delivery.ErrConflict)
			require.ErrorIs(t, err, delivery.ErrInvalid)
			assert.Contains(t, err.Error(), tc.conflict)
			assert.NotContains(t, err.Error(), "v1", "payloads are never quoted")
		})
	}
}
