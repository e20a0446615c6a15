package redact_test

import (
	"fmt"

	"github.com/outbound-go/outbound/internal/redact"
)

func ExampleText() {
	fmt.Println(redact.Text(`Post "https://u:pw@hooks.example/services/T1/B2/AbCdEf0123456789xyzQ?sig=s3": EOF`))
	fmt.Println(redact.Text(`permanent: http 401 Unauthorized: body "{\"error\":\"expired\",\"token\":\"t-123\"}"`))
	// Output:
	// Post "https://[redacted]@hooks.example/services/T1/B2/[redacted]?[redacted]": EOF
	// permanent: http 401 Unauthorized: body "{\"error\":\"expired\",\"token\":\"[redacted]\"}"
}
