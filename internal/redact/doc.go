// Package redact removes credentials from text the library shows or stores:
// error texts kept on records (and so on dead-letter pages), log lines,
// health reports and printed messages. It is the library's one redactor;
// health.Redact, delivery.RedactURL and delivery.NewAttempt all use it.
//
// It strips what is shaped like a credential and keeps what a person reading
// a dead letter needs, the partner's own words included:
//
//	redact.Text(`Post "https://u:pw@hooks.example/services/T1/B2/AbCdEf0123456789xyzQ?sig=s3": EOF`)
//	// Post "https://[redacted]@hooks.example/services/T1/B2/[redacted]?[redacted]": EOF
//	redact.Text(`permanent: http 422: body "{\"error\":\"email is required\"}"`)
//	// unchanged
//
// Redaction is a safety net, not a guarantee: it recognises common shapes
// of secrets (see [Text]), not every one. Code should still keep
// credentials out of errors and messages in the first place.
package redact
