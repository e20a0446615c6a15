package classify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
)

// Of returns the class of err.
//
//   - nil is ClassOK.
//   - An [*Error] anywhere in the chain decides: the outermost one wins, so
//     a caller can reclassify an error by wrapping it again.
//   - context.Canceled is ClassUnavailable: the caller gave up (typically a
//     shutdown), the destination did not fail. The dispatcher releases such
//     a record back to pending without counting an attempt, and a circuit
//     breaker does not count it as a failure.
//   - context.DeadlineExceeded is ClassEphemeral: a per-attempt timeout is the
//     destination being slow. (A dispatcher that is itself shutting down
//     checks its own context first and treats the attempt as ClassUnavailable.)
//   - Network failures are ClassEphemeral: net.Error timeouts, connection
//     refused, reset or aborted, broken pipe, unreachable hosts, io.EOF and
//     io.ErrUnexpectedEOF mid-response, and every *net.DNSError, including
//     "no such host", because real resolvers return NXDOMAIN for names that
//     exist when they are overloaded or misconfigured.
//   - TLS certificate failures (unknown authority, wrong host name, expired
//     or invalid certificate) and talking TLS to a plain HTTP server are
//     ClassPermanent: retrying will not change the certificate.
//   - Anything else is ClassEphemeral: for an error nobody recognises, a bounded
//     number of retries followed by a dead letter loses less than failing
//     at once.
//
// Of looks through *url.Error, *net.OpError and any other error that
// implements Unwrap.
func Of(err error) Class {
	c, _ := inspect(err)
	return c
}

// Cause returns a short, stable, low-cardinality name for what went wrong,
// suitable as a metrics label or a counter key: "ok", "timeout", "deadline",
// "canceled", "conn_refused", "conn_reset", "conn_aborted", "conn_closed",
// "broken_pipe", "unreachable", "eof", "dns", "tls_cert", "tls",
// "network", "http_<status>" (e.g. "http_503"), the class name for an
// [*Error] with neither status nor cause, or "other".
func Cause(err error) string {
	_, cause := inspect(err)
	return cause
}

func inspect(err error) (Class, string) {
	if err == nil {
		return ClassOK, "ok"
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Class, causeOfExplicit(ce)
	}
	return inferred(err)
}

func causeOfExplicit(e *Error) string {
	if e.Status != 0 {
		return "http_" + strconv.Itoa(e.Status)
	}
	if e.Err == nil {
		return e.Class.String()
	}
	_, cause := inspect(e.Err)
	return cause
}

// plainHTTPOverTLS is the text of the error net/http returns, without a type
// to match, when an https URL reaches a plain HTTP server.
const plainHTTPOverTLS = "server gave HTTP response to HTTPS client"

// inferred classifies an error that carries no explicit class.
func inferred(err error) (Class, string) {
	switch {
	case errors.Is(err, context.Canceled):
		return ClassUnavailable, "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return ClassEphemeral, "deadline"
	}
	if isCertificateError(err) {
		return ClassPermanent, "tls_cert"
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) || strings.Contains(err.Error(), plainHTTPOverTLS) {
		return ClassPermanent, "tls"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return ClassEphemeral, "dns"
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassEphemeral, "conn_refused"
	case errors.Is(err, syscall.ECONNRESET):
		return ClassEphemeral, "conn_reset"
	case errors.Is(err, syscall.ECONNABORTED):
		return ClassEphemeral, "conn_aborted"
	case errors.Is(err, syscall.EPIPE):
		return ClassEphemeral, "broken_pipe"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return ClassEphemeral, "unreachable"
	case errors.Is(err, syscall.ETIMEDOUT):
		return ClassEphemeral, "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ClassEphemeral, "timeout"
	}
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ClassEphemeral, "eof"
	case errors.Is(err, net.ErrClosed):
		return ClassEphemeral, "conn_closed"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return ClassEphemeral, "network"
	}
	return ClassEphemeral, "other"
}

func isCertificateError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		roots    x509.SystemRootsError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) ||
		errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &roots)
}
