package classify_test

import (
	"errors"
	"io"
	"log"

	"github.com/outbound-go/outbound/classify"
)

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

func errorsAs(err error, target **classify.Error) bool { return errors.As(err, target) }
