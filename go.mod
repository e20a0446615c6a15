module github.com/outbound-go/outbound

go 1.25.0

require (
	code.dny.dev/ssrf v0.3.0
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/sony/gobreaker/v2 v2.4.0
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.57.0
	golang.org/x/oauth2 v0.36.0
	golang.org/x/sync v0.22.0
	golang.org/x/time v0.15.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
