package text_test

import (
	"fmt"

	"github.com/outbound-go/outbound/internal/text"
)

func Example() {
	fmt.Printf("%q\n", text.Truncate("héllo", 2))
	fmt.Printf("%q\n", text.Ellipsis("hello world", 8))
	fmt.Printf("%q\n", text.Snippet("a\xffb", 8))
	// Output:
	// "h"
	// "hello…"
	// "a�b"
}
