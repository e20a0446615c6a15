package retry

import (
	"time"

	"github.com/outbound-go/outbound/classify"
)

// outcome returns the class of err and its Retry-After hint (0 when there is
// none). Both classify functions walk the error tree without allocating for
// the errors this library produces, which keeps Policy.Next allocation-free.
func outcome(err error) (classify.Class, time.Duration) {
	ra, _ := classify.RetryAfter(err)
	return classify.Of(err), ra
}
