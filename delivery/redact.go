package delivery

import "github.com/outbound-go/outbound/internal/redact"

// RedactURL returns raw safe to show, store or log: scheme, host, port and
// path stay, except path segments longer than 16 bytes that look random
// (webhook secrets such as hooks.slack.com/services/T…/B…/<secret>); user
// info, the query and the fragment are replaced by "[redacted]". Input
// that does not parse as an absolute URL is replaced entirely. It applies
// the same rules as the redaction of stored attempt errors (NewAttempt)
// and of log lines (health.Redact).
func RedactURL(raw string) string { return redact.URL(raw) }
