// Package nilcheck tells a nil interface value from a usable one, including
// the typed nil that a plain comparison with nil misses: an interface that
// holds a nil pointer, func, map, slice or channel. Constructors use it to
// refuse such a value with an error naming the field, instead of accepting
// it and panicking later in a worker goroutine.
package nilcheck

import "reflect"

// IsNil reports whether v is nil or an interface holding a nil pointer,
// func, map, slice, channel or interface. Values of other kinds (structs,
// numbers, strings) are never nil.
func IsNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Slice, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}

// Typed reports whether v is a typed nil: not nil itself, but an interface
// holding a nil pointer, func, map, slice, channel or interface. Such a
// value passes a `v != nil` check and then panics when a method is called
// on it, so a constructor that treats a nil field as "not set" should
// refuse a typed nil with an error.
func Typed(v any) bool { return v != nil && IsNil(v) }
