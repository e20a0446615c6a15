package redact

import "strings"

// sensitiveWords are the parts of a header or field name that say its value
// is a credential.
var sensitiveWords = [...]string{
	"auth", // Authorization, Proxy-Authorization, X-Auth-Token
	"token",
	"secret",
	"key", // X-Api-Key, Api-Key
	"password",
	"passwd",
	"pwd",
	"cookie", // Cookie, Set-Cookie
	"signature",
	"credential",
	"session",
}

// SensitiveName reports whether a header or field name says its value is a
// credential: it contains, in any case, "auth" (Authorization), "token",
// "secret", "key" (X-Api-Key), "password", "passwd", "pwd", "cookie",
// "signature", "credential" or "session". It errs on the side of hiding:
// Idempotency-Key is sensitive by this rule.
func SensitiveName(name string) bool {
	lower := strings.ToLower(name)
	for _, w := range sensitiveWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}
