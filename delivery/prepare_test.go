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
