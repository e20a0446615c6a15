package tokencache

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/internal/redact"
)

// MaxErrorText bounds the text of an error a Source built here
// ([ClientCredentials], [FromOAuth2]) or the Cache returns for a failed
// mint: the same bound as the body snippet of a partner's answer
// (classify.MaxBodySnippet), so an issuer that answers with a 1 MiB page
// does not put 1 MiB into every log line and stored attempt.
const MaxErrorText = classify.MaxBodySnippet

// issuerError is a token request's failure with its text made safe to log
// and store: see safeIssuerError.
type issuerError struct {
	msg string
	err error
}

func (e *issuerError) Error() string { return e.msg }

// Unwrap returns the cause: for an issuer's answer, a copy of the
// *oauth2.RetrieveError built from redacted parts.
func (e *issuerError) Unwrap() error { return e.err }

// safeIssuerError returns err with its text safe to show: the client's
// secret (in the forms an issuer may echo it; empty when unknown) and
// anything shaped like a credential are replaced by redact.Marker, the text
// is one line, and it is cut to MaxErrorText bytes. An issuer's answer
// (*oauth2.RetrieveError) is replaced by a copy made of the same redacted
// parts, without the response's headers or body stream, so that errors.As
// still finds its ErrorCode but nothing downstream can reach what the
// issuer echoed. Other errors stay reachable through Unwrap, for errors.Is
// (context.Canceled) and classify.Of. Applying it again changes nothing.
// It returns nil for a nil err.
func safeIssuerError(err error, clientID, secret string) error {
	if err == nil {
		return nil
	}
	clean := func(s string) string { return redact.Bounded(scrub(s, clientID, secret), MaxErrorText) }
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return &issuerError{msg: clean(errorText(err)), err: err}
	}
	safe := safeRetrieveError(re, clean)
	if _, direct := err.(*oauth2.RetrieveError); !direct {
		return &issuerError{msg: clean(errorText(err)), err: safe}
	}
	msg := safe.Error()
	if safe.ErrorCode == "" {
		// oauth2 writes "cannot fetch token: 500 ...", which a redactor
		// reads as a credential pair (token: 500); say it another way.
		msg = fmt.Sprintf("oauth2: cannot fetch token (HTTP %s): %s", safe.Response.Status, safe.Body)
	}
	return &issuerError{msg: clean(msg), err: safe}
}

// errorText returns err.Error(), or a description of err if its Error
// method panics (an *oauth2.RetrieveError without a Response does), so that
// a Source's odd error cannot crash the refresh.
func errorText(err error) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("tokencache: the source's error (%T) cannot be printed", err)
		}
	}()
	return err.Error()
}

// safeRetrieveError returns a copy of re made of cleaned parts.
func safeRetrieveError(re *oauth2.RetrieveError, clean func(string) string) *oauth2.RetrieveError {
	out := &oauth2.RetrieveError{
		ErrorCode:        clean(re.ErrorCode),
		ErrorDescription: clean(re.ErrorDescription),
		ErrorURI:         clean(re.ErrorURI),
		Body:             []byte(clean(string(re.Body))),
		// Its Error method reads Response.Status when there is no code.
		Response: &http.Response{Status: "unknown status", Header: http.Header{}, Body: http.NoBody},
	}
	if r := re.Response; r != nil {
		out.Response.Status = clean(r.Status)
		out.Response.StatusCode = r.StatusCode
		out.Response.Proto, out.Response.ProtoMajor, out.Response.ProtoMinor = r.Proto, r.ProtoMajor, r.ProtoMinor
	}
	return out
}

// scrub replaces the secret in s by redact.Marker in every form an issuer
// may echo it: as is, form-encoded, JSON-escaped, and inside a Basic
// credential with the client ID. An empty secret leaves s unchanged.
func scrub(s, clientID, secret string) string {
	if secret == "" {
		return s
	}
	quoted, _ := json.Marshal(secret) // a string always marshals
	for _, form := range []string{
		secret,
		url.QueryEscape(secret),
		string(quoted[1 : len(quoted)-1]),
		base64.StdEncoding.EncodeToString([]byte(clientID + ":" + secret)),
		base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID) + ":" + url.QueryEscape(secret))),
	} {
		s = strings.ReplaceAll(s, form, redact.Marker)
	}
	return s
}
