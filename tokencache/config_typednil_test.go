package tokencache_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/tokencache"
)

// A nil pointer or func in an interface passed the nil checks and panicked
// on the first Token call.
func TestConstructorsRefuseTypedNils(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func() error
		want  string
	}{
		{"New source nil func", func() error {
			_, err := tokencache.New(tokencache.SourceFunc(nil), tokencache.Config{})
			return err
		}, "source is a nil"},
		{"Config.Store nil pointer", func() error {
			_, err := tokencache.New(tokencache.SourceFunc(nil), tokencache.Config{Store: (*tokencache.MemoryStore)(nil)})
			return err
		}, "source is a nil"},
		{"Config.Store nil pointer with a good source", func() error {
			src := tokencache.SourceFunc(func(ctx context.Context) (tokencache.Token, error) { return tokencache.Token{}, nil })
			_, err := tokencache.New(src, tokencache.Config{Store: (*tokencache.MemoryStore)(nil)})
			return err
		}, "Config.Store is a nil"},
		{"NewEncryptedStore inner nil pointer", func() error {
			_, err := tokencache.NewEncryptedStore((*tokencache.MemoryStore)(nil), make([]byte, 32))
			return err
		}, "inner store is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = tc.build() })
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
