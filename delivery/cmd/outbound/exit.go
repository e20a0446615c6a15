package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/outbound-go/outbound/delivery"
)

// Exit codes.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitNotFound = 3
	exitRefused  = 4
)

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// exitCode reports err on stderr and returns its exit code.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var u *usageError
	switch {
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "outbound: %v\nRun 'outbound help' for usage.\n", err)
		return exitUsage
	case errors.Is(err, delivery.ErrNotFound):
		fmt.Fprintf(stderr, "outbound: not found: %v\n", err)
		return exitNotFound
	case errors.Is(err, delivery.ErrInvalid):
		fmt.Fprintf(stderr, "outbound: refused: %v\n", err)
		return exitRefused
	default:
		fmt.Fprintf(stderr, "outbound: %v\n", err)
		return exitError
	}
}
