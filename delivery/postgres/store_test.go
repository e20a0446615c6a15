package postgres_test

import (
	"testing"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) delivery.Store {
		s, _ := newStore(t, now)
		return s
	})
}
