// Until delivery/postgres implements the destination methods of
// delivery.Store, the default build has no PostgreSQL outbox: -postgres
// says so. Delete this file (and the constraint of store_postgres.go) once
// it does.

//go:build !pgdestinations

package main

import (
	"context"
	"errors"

	"github.com/outbound-go/outbound/delivery"
)

// openPostgres reports that this build has no PostgreSQL outbox.
func openPostgres(context.Context, config) (delivery.Store, string, func() error, error) {
	return nil, "", nil, errors.New("-postgres: this build has no PostgreSQL outbox yet (delivery/postgres does not implement the destination methods of delivery.Store); build with -tags pgdestinations once it does")
}
