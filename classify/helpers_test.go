package classify_test

import (
	"errors"

	"github.com/outbound-go/outbound/classify"
	"io"
	"log"
)

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

func errorsAs(err error, target **classify.Error) bool { return errors.As(err, target) }
