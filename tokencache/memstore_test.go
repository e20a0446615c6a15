package tokencache_test

import (
	"testing"

	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

func TestMemoryStoreConformance(t *testing.T) {
	tokentest.RunStoreTests(t, func(*testing.T) tokencache.Store { return &tokencache.MemoryStore{} }, tokentest.InSynctest())
}
