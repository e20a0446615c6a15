package delivery_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

const (
	tp1 = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tp2 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
)

func TestValidTraceParent(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{tp1, true},
		{tp2, true},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", true},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", false},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", false},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", false},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-" + strings.Repeat("a", 300), false},
	} {
		assert.Equal(t, tc.want, delivery.ValidTraceParent(tc.in), "%q", tc.in)
	}
}

func TestValidTraceState(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", true},
		{"rojo=00f067aa0ba902b7", true},
		{"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", true},
		{" rojo=1 ,\tcongo=2 ,, ", true},
		{"tenant@vendor=x", true},
		{"a/b_c-d*e=v v", true},
		{"Rojo=1", false},
		{"rojo", false},
		{"=1", false},
		{"rojo=", false},
		{"rojo=a=b", false},
		{"rojo=bad\x01", false},
		{"rojo=é", false},
		{"a@b@c=1", false},
		{"@vendor=1", false},
		{"rojo=1 ", true}, // trailing space is optional white space around the member
		{strings.Repeat("k=v,", 33), false},
		{strings.Repeat("k=v,", 32), true},
		{"k=" + strings.Repeat("v", delivery.MaxTraceStateBytes), false},
	} {
		assert.Equal(t, tc.want, delivery.ValidTraceState(tc.in), "%q", tc.in)
	}
}

// The enqueuing context's trace context is what WithTraceContext set,
// else what the SetTraceContextSource hook finds; a panicking hook finds
// nothing.
func TestTraceContextFrom(t *testing.T) {
	t.Cleanup(func() { delivery.SetTraceContextSource(nil) })
	ctx := context.Background()
	p, s := delivery.TraceContextFrom(ctx)
	assert.Empty(t, p+s, "no trace anywhere")

	delivery.SetTraceContextSource(func(context.Context) (string, string) { return tp2, "from=hook" })
	p, s = delivery.TraceContextFrom(ctx)
	assert.Equal(t, tp2, p, "the hook fills in")
	assert.Equal(t, "from=hook", s)

	p, s = delivery.TraceContextFrom(delivery.WithTraceContext(ctx, tp1, "own=1"))
	assert.Equal(t, tp1, p, "WithTraceContext wins over the hook")
	assert.Equal(t, "own=1", s)

	m, err := delivery.PrepareMessage(ctx, delivery.Message{Payload: []byte("x")})
	require.NoError(t, err)
	assert.Equal(t, tp2, m.TraceParent, "PrepareMessage asks the hook")
	assert.Equal(t, "from=hook", m.TraceState)

	delivery.SetTraceContextSource(func(context.Context) (string, string) { panic("tracer bug") })
	p, s = delivery.TraceContextFrom(ctx)
	assert.Empty(t, p+s, "a panicking hook finds nothing")
	m, err = delivery.PrepareMessage(ctx, delivery.Message{Payload: []byte("x")})
	require.NoError(t, err, "and costs no record")
	assert.Empty(t, m.TraceParent)

	delivery.SetTraceContextSource(nil)
	p, _ = delivery.TraceContextFrom(ctx)
	assert.Empty(t, p, "a nil hook removes it")
}

// A malformed trace context in the enqueuing context is dropped; a
// message's own is validated.
func TestPrepareMessageTraceContext(t *testing.T) {
	ctx := delivery.WithTraceContext(context.Background(), tp1, "rojo=1")
	m, err := delivery.PrepareMessage(ctx, delivery.Message{Payload: []byte("x")})
	require.NoError(t, err)
	assert.Equal(t, tp1, m.TraceParent)
	assert.Equal(t, "rojo=1", m.TraceState)

	m, err = delivery.PrepareMessage(ctx, delivery.Message{Payload: []byte("x"), TraceParent: tp2})
	require.NoError(t, err)
	assert.Equal(t, tp2, m.TraceParent, "a message's own trace wins")
	assert.Empty(t, m.TraceState, "without the context's state")

	for _, bad := range []string{"garbage", tp1 + "\r\nX-Injected: 1", strings.Repeat("0", 5000)} {
		m, err = delivery.PrepareMessage(delivery.WithTraceContext(context.Background(), bad, "rojo=1"), delivery.Message{Payload: []byte("x")})
		require.NoError(t, err, "a malformed traceparent in ctx costs no record")
		assert.Empty(t, m.TraceParent)
		assert.Empty(t, m.TraceState, "nor keeps a state without its parent")
	}

	for _, m := range []delivery.Message{
		{Payload: []byte("x"), TraceParent: "garbage"},
		{Payload: []byte("x"), TraceParent: tp1, TraceState: "Bad"},
		{Payload: []byte("x"), TraceState: "rojo=1"},
	} {
		_, err := delivery.PrepareMessage(context.Background(), m)
		require.ErrorIs(t, err, delivery.ErrInvalid, "%+v", m)
	}
	_, err = delivery.PrepareMessage(context.Background(), delivery.Message{Payload: []byte("x"), TraceParent: tp1,
		TraceState: "k=" + strings.Repeat("v", delivery.MaxTraceStateBytes)})
	require.ErrorIs(t, err, delivery.ErrTooLarge)
}

// FuzzTraceContext: the validators never panic, and what they accept
// stays within the limits the stores rely on.
func FuzzTraceContext(f *testing.F) {
	for _, s := range []string{tp1, tp2, "", "rojo=1,congo=2", "01-" + tp1[3:] + "-x", "ff-" + tp1[3:]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if delivery.ValidTraceParent(s) {
			require.GreaterOrEqual(t, len(s), 55)
			require.LessOrEqual(t, len(s), delivery.MaxIDBytes)
			require.NotContains(t, s, "\n")
		}
		if delivery.ValidTraceState(s) {
			require.LessOrEqual(t, len(s), delivery.MaxTraceStateBytes)
			require.NotContains(t, s, "\n")
		}
		m, err := delivery.PrepareMessage(delivery.WithTraceContext(context.Background(), s, s), delivery.Message{Payload: []byte("x")})
		require.NoError(t, err, "what ctx carries never fails an enqueue")
		require.NoError(t, delivery.ValidateMessage(&m))
	})
}
