package resilient

import (
	"bytes"
	"io"
	"net/http"

	"github.com/outbound-go/outbound/classify"
)

// classify returns the class of resp under the rules as an error (nil for
// ClassOK). With a Body rule it reads the first Rules.BodyLimit() bytes of
// the body for the rule and puts them back in front of the rest, so the
// caller still reads the whole body.
func (t *Transport) classify(resp *http.Response) error {
	if t.rules.Body == nil {
		if t.rules.StatusClass(resp.StatusCode) == classify.ClassOK {
			return nil
		}
		return t.rules.Classify(resp, nil)
	}
	prefix, readErr := io.ReadAll(io.LimitReader(resp.Body, int64(t.rules.BodyLimit())))
	resp.Body = &replayedBody{Reader: io.MultiReader(bytes.NewReader(prefix), errAfter(readErr, resp.Body)), Closer: resp.Body}
	return t.rules.Classify(resp, prefix)
}

// errAfter returns r, or a reader that fails with err when reading the
// prefix failed, so the caller sees the same error the classifier met.
func errAfter(err error, r io.Reader) io.Reader {
	if err != nil {
		return errReader{err}
	}
	return r
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// replayedBody is a response body whose first bytes were read for
// classification and are served again.
type replayedBody struct {
	io.Reader
	io.Closer
}

// drain discards up to maxDrain bytes of resp's body and closes it, so the
// connection can be reused.
func (t *Transport) drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, t.maxDrain)
	_ = resp.Body.Close()
}

// closeBody closes a request body that will not be sent.
func closeBody(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
}
