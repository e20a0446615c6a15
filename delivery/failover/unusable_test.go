package failover_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery/failover"
	"github.com/outbound-go/outbound/health"
)

var dnsNotFound = net.DNSError{Err: "no such host", Name: "partner.example", IsNotFound: true}

func urlErr(err error) error {
	return &url.Error{Op: "Post", URL: "https://partner.example/x", Err: err}
}

func TestChannelUnusable(t *testing.T) {
	dnsErr := dnsNotFound
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"dns", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: &dnsErr}), true},
		{"connection refused", urlErr(refused()), true},
		{"connection reset", urlErr(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), true},
		{"unreachable", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}), true},
		{"dial timeout", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}), true},
		{"tls handshake timeout", urlErr(tlsTimeout{}), true},
		{"certificate", urlErr(x509.UnknownAuthorityError{}), true},
		{"breaker open", classify.Unavailable(fmt.Errorf("breaker: %w", health.ErrBreakerOpen)), true},
		{"gate closed", classify.Unavailable(errors.New("down")), true},
		{"400", &classify.Error{Class: classify.ClassPermanent, Status: 400}, false},
		{"503", &classify.Error{Class: classify.ClassEphemeral, Status: 503}, false},
		{"discard", classify.Discard(errors.New("invalid record")), false},
		{"permanent", classify.Permanent(errors.New("no")), false},
		{"response timeout", urlErr(&net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}), false},
		{"deadline", urlErr(context.DeadlineExceeded), false},
		{"eof mid-response", urlErr(errors.New("unexpected EOF")), false},
	} {
		assert.Equal(t, tc.want, failover.ChannelUnusable(tc.err), tc.name)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

type tlsTimeout struct{}

func (tlsTimeout) Error() string   { return "net/http: TLS handshake timeout" }
func (tlsTimeout) Timeout() bool   { return true }
func (tlsTimeout) Temporary() bool { return true }
