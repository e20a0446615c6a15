package nilcheck_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/internal/nilcheck"
)

type ptrReader struct{}

func (*ptrReader) Read([]byte) (int, error) { return 0, io.EOF }

type funcReader func([]byte) (int, error)

func (f funcReader) Read(p []byte) (int, error) { return f(p) }

type mapReader map[string]int

func (mapReader) Read([]byte) (int, error) { return 0, io.EOF }

type valueReader struct{}

func (valueReader) Read([]byte) (int, error) { return 0, io.EOF }

func TestIsNilAndTyped(t *testing.T) {
	var nilCtx context.Context
	for _, tc := range []struct {
		name         string
		v            any
		isNil, typed bool
	}{
		{"untyped nil", nil, true, false},
		{"nil interface variable", nilCtx, true, false},
		{"nil pointer in interface", io.Reader((*ptrReader)(nil)), true, true},
		{"nil func in interface", io.Reader(funcReader(nil)), true, true},
		{"nil map in interface", io.Reader(mapReader(nil)), true, true},
		{"nil slice", []int(nil), true, true},
		{"nil chan", (chan int)(nil), true, true},
		{"pointer", &ptrReader{}, false, false},
		{"func", funcReader(func([]byte) (int, error) { return 0, nil }), false, false},
		{"empty map", mapReader{}, false, false},
		{"struct value", valueReader{}, false, false},
		{"int", 0, false, false},
		{"empty string", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.isNil, nilcheck.IsNil(tc.v), "IsNil")
			assert.Equal(t, tc.typed, nilcheck.Typed(tc.v), "Typed")
		})
	}
}
