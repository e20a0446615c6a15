module github.com/outbound-go/outbound/delivery/postgres/cmd/outbound-schema

go 1.26.0

require (
	github.com/jackc/pgx/v5 v5.12.0
	github.com/outbound-go/outbound v0.0.0
	github.com/outbound-go/outbound/delivery/postgres v0.0.0
	github.com/pressly/goose/v3 v3.30.1
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
)

require (
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/mfridman/interpolate v0.2.0 // indirect
	github.com/sethvargo/go-retry v0.5.0 // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace (
	github.com/outbound-go/outbound => ../../../..
	github.com/outbound-go/outbound/delivery/postgres => ../..
)
