package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/sqlite"
)

// An outbox in one file: enqueue, claim and complete, then reopen the file
// and find the record delivered.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "outbox")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "outbox.db")
	ctx := context.Background()

	store, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		panic(err)
	}
	_, err = store.Enqueue(ctx, delivery.Message{
		ID: "hire-42", Key: "cand-42", Destination: "ats",
		Payload: []byte(`{"candidate":"cand-42","state":"hired"}`),
	})
	if err != nil {
		panic(err)
	}
	recs, err := store.Claim(ctx, 10, time.Minute)
	if err != nil {
		panic(err)
	}
	for _, r := range recs {
		fmt.Println("claimed", r.ID, "for", r.Destination)
		if err := store.Complete(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassOK, Status: 201}, false); err != nil {
			panic(err)
		}
	}
	if err := store.Close(); err != nil {
		panic(err)
	}

	store, err = sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	r, err := store.Get(ctx, "hire-42")
	fmt.Println(r.State, r.LastAttempt.Status, err)

	_, err = sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "missing", "outbox.db")})
	fmt.Println(err != nil)
	// Output:
	// claimed hire-42 for ats
	// delivered 201 <nil>
	// true
}
