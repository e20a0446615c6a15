package killtest_test

import (
	"fmt"

	"github.com/outbound-go/outbound/delivery/storetest/killtest"
)

// A test binary started by go test is the parent; the children Run starts
// see IsChild true and run RunChild from TestMain.
func ExampleIsChild() {
	fmt.Println(killtest.IsChild())
	// Output: false
}

// The figures a kill test returns.
func ExampleResult_DuplicatesPerKill() {
	r := killtest.Result{Records: 2000, Kills: 5, Duplicates: 3, Bound: 40}
	fmt.Printf("%.1f duplicates per kill (bound %d)\n", r.DuplicatesPerKill(), r.Bound)
	// Output: 0.6 duplicates per kill (bound 40)
}
