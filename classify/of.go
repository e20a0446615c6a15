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
//   - nil is OK.
//   - An [*Error] anywhere in the chain decides: the outermost one wins, so
//     a caller can reclassify an error by wrapping it again.
//   - context.Canceled is Unavailable: the caller gave up (typically a
//     shutdown), the destination did not fail. The dispatcher releases such
//     a record back to pending without counting an attempt, and a circuit
//     breaker does not count it as a failure.
//   - context.DeadlineExceeded is Ephemeral: a per-attempt timeout is the
//     destination being slow. (A dispatcher that is itself shutting down
//     checks its own context first and treats the attempt as Unavailable.)
//   - Network failures are Ephemeral: net.Error timeouts, connection
//     refused, reset or aborted, broken pipe, unreachable hosts, io.EOF and
//     io.ErrUnexpectedEOF mid-response, and every *net.DNSError, including
//     "no such host", because real resolvers return NXDOMAIN for names that
//     exist when they are overloaded or misconfigured.
//   - TLS certificate failures (unknown authority, wrong host name, expired
//     or invalid certificate) and talking TLS to a plain HTTP server are
//     Permanent: retrying will not change the certificate.
//   - Anything else is Ephemeral: for an error nobody recognises, a bounded
//     number of retries followed by a dead letter loses less than failing
//     at once.
//
// Of looks through *url.Error, *net.OpError and any other error that
// implements Unwrap, and does not allocate for errors built from the
// standard library's and this package's types.
func Of(err error) Class {
	c, _ := inspect(err)
	return c
}

// Cause returns a short, stable, low-cardinality name for what went wrong,
// suitable as a metrics label or a counter key: "ok", "timeout", "deadline",
// "canceled", "conn_refused", "conn_reset", "conn_aborted", "conn_closed",
// "broken_pipe", "unreachable", "eof", "dns", "tls_cert", "tls",
// "network", "http_<status>" (e.g. "http_503"), the name given by the
// outermost [Causer] in the chain (such as health's "breaker_open"), the
// class name for an [*Error] with neither status nor cause, or "other".
func Cause(err error) string {
	_, cause := inspect(err)
	return cause
}

func inspect(err error) (Class, string) {
	if err == nil {
		return ClassOK, "ok"
	}
	if ce := explicit(err); ce != nil {
		return ce.Class, causeOfExplicit(ce)
	}
	return inferred(err)
}

func causeOfExplicit(e *Error) string {
	if e.Status != 0 {
		return httpCause(e.Status)
	}
	if e.Err == nil {
		return e.Class.String()
	}
	_, cause := inspect(e.Err)
	return cause
}

// httpCauses holds the cause names of the common statuses, so that Cause
// does not build a string per call.
var httpCauses = func() map[int]string {
	m := make(map[int]string)
	for s := 100; s <= 599; s++ {
		m[s] = "http_" + strconv.Itoa(s)
	}
	return m
}()

func httpCause(status int) string {
	if c, ok := httpCauses[status]; ok {
		return c
	}
	return "http_" + strconv.Itoa(status)
}

// plainHTTPOverTLS is the text of the error net/http returns, without a type
// to match, when an https URL reaches a plain HTTP server.
const plainHTTPOverTLS = "server gave HTTP response to HTTPS client"

// feature is something recognised in an error tree.
type feature uint32

const (
	fCanceled feature = 1 << iota
	fDeadline
	fCert
	fTLS
	fDNS
	fRefused
	fReset
	fAborted
	fPipe
	fUnreachable
	fErrnoTimeout
	fTimeout
	fEOF
	fClosed
	fOpError
)

// verdicts lists, in priority order, what each feature means.
var verdicts = [...]struct {
	f     feature
	class Class
	cause string
}{
	{fCanceled, ClassUnavailable, "canceled"},
	{fDeadline, ClassEphemeral, "deadline"},
	{fCert, ClassPermanent, "tls_cert"},
	{fTLS, ClassPermanent, "tls"},
	{fDNS, ClassEphemeral, "dns"},
	{fRefused, ClassEphemeral, "conn_refused"},
	{fReset, ClassEphemeral, "conn_reset"},
	{fAborted, ClassEphemeral, "conn_aborted"},
	{fPipe, ClassEphemeral, "broken_pipe"},
	{fUnreachable, ClassEphemeral, "unreachable"},
	{fErrnoTimeout, ClassEphemeral, "timeout"},
	{fTimeout, ClassEphemeral, "timeout"},
	{fEOF, ClassEphemeral, "eof"},
	{fClosed, ClassEphemeral, "conn_closed"},
	{fOpError, ClassEphemeral, "network"},
}

// Causer is an error that names its own cause for [Cause]: a short,
// stable, low-cardinality string such as "breaker_open". The outermost
// Causer in an error's chain names the cause unless an [*Error] with an
// HTTP status is outside it.
type Causer interface {
	OutcomeCause() string
}

// inferred classifies an error that carries no explicit class.
func inferred(err error) (Class, string) {
	fs, sure := features(err, false)
	if !sure {
		fs = featuresSlow(err)
	}
	class, cause := ClassEphemeral, "other"
	for _, v := range verdicts {
		if fs&v.f != 0 {
			class, cause = v.class, v.cause
			break
		}
	}
	if fs == 0 && strings.Contains(err.Error(), plainHTTPOverTLS) {
		class, cause = ClassPermanent, "tls"
	}
	if named := causer(err); named != "" {
		cause = named
	}
	return class, cause
}

// causer returns the name given by the outermost Causer in err's tree, or
// "".
func causer(err error) string {
	for err != nil {
		if c, ok := err.(Causer); ok {
			return c.OutcomeCause()
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if name := causer(inner); name != "" {
					return name
				}
			}
			return ""
		default:
			return ""
		}
	}
	return ""
}

// sentinels are the errors recognised by identity (errors.Is).
var sentinels = [...]struct {
	err error
	f   feature
}{
	{context.Canceled, fCanceled},
	{context.DeadlineExceeded, fDeadline},
	{io.ErrUnexpectedEOF, fEOF},
	{io.EOF, fEOF},
	{net.ErrClosed, fClosed},
	{syscall.ECONNREFUSED, fRefused},
	{syscall.ECONNRESET, fReset},
	{syscall.ECONNABORTED, fAborted},
	{syscall.EPIPE, fPipe},
	{syscall.EHOSTUNREACH, fUnreachable},
	{syscall.ENETUNREACH, fUnreachable},
	{syscall.ETIMEDOUT, fErrnoTimeout},
}

// features walks err's tree in errors.As order and reports what it
// recognises, without allocating. sawNetErr tells whether a net.Error was
// already met (only the first one's Timeout counts, as with errors.As).
// sure is false when an error with an As method is met.
func features(err error, sawNetErr bool) (fs feature, sure bool) {
	for err != nil {
		if _, ok := err.(interface{ As(any) bool }); ok {
			return fs, false
		}
		fs |= nodeFeatures(err)
		if ne, ok := err.(net.Error); ok && !sawNetErr {
			sawNetErr = true
			if ne.Timeout() {
				fs |= fTimeout
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				f, ok := features(inner, sawNetErr)
				fs |= f
				if !ok {
					return fs, false
				}
				if f&fTimeout != 0 || containsNetError(inner) {
					sawNetErr = true
				}
			}
			return fs, true
		default:
			return fs, true
		}
	}
	return fs, true
}

// containsNetError reports whether err's tree holds a net.Error.
func containsNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

// nodeFeatures recognises one error, not its causes.
func nodeFeatures(err error) feature {
	var fs feature
	switch e := err.(type) {
	case *net.DNSError:
		fs |= fDNS
	case *net.OpError:
		fs |= fOpError
	case tls.RecordHeaderError:
		fs |= fTLS
	case *tls.CertificateVerificationError, x509.UnknownAuthorityError, x509.HostnameError,
		x509.CertificateInvalidError, x509.SystemRootsError:
		fs |= fCert
	case interface{ Is(error) bool }:
		for _, s := range sentinels {
			if err == s.err || e.Is(s.err) {
				fs |= s.f
			}
		}
		return fs
	}
	for _, s := range sentinels {
		if err == s.err {
			fs |= s.f
		}
	}
	return fs
}

// featuresSlow is features for trees with As methods, built on errors.Is
// and errors.As.
func featuresSlow(err error) feature {
	var fs feature
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			fs |= s.f
		}
	}
	var (
		dns      *net.DNSError
		op       *net.OpError
		rh       tls.RecordHeaderError
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		roots    x509.SystemRootsError
		ne       net.Error
	)
	if errors.As(err, &dns) {
		fs |= fDNS
	}
	if errors.As(err, &op) {
		fs |= fOpError
	}
	if errors.As(err, &rh) {
		fs |= fTLS
	}
	if errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &roots) {
		fs |= fCert
	}
	if errors.As(err, &ne) && ne.Timeout() {
		fs |= fTimeout
	}
	return fs
}
