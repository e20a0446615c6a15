package tokencache

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrNoExpiry is returned by JWTExpiry for a well-formed JWT without an exp
// claim.
var ErrNoExpiry = errors.New("tokencache: JWT has no exp claim")

// unverified reads claims without checking signatures or time claims.
var unverified = jwt.NewParser(jwt.WithoutClaimsValidation())

// JWTExpiry returns the time in the exp claim of a JWT.
//
// The signature is not verified. That is deliberate and safe for what the
// cache uses it for: reading the lifetime of a token our own Source has just
// received from the issuer over TLS, to know when to mint the next one. The
// partner verifies the token; nothing here trusts the claims for
// authorisation. Do not use JWTExpiry to accept tokens from others.
//
// It returns an error wrapping jwt.ErrTokenMalformed when value is not a
// JWT, jwt.ErrInvalidType when exp is not a number, ErrNoExpiry when there
// is no exp claim, and an error when exp is outside the years 1970 to 9999.
// Errors never contain the token or its claims.
func JWTExpiry(value string) (time.Time, error) {
	claims := jwt.MapClaims{}
	_, _, err := unverified.ParseUnverified(value, claims)
	// An unknown alg stops the parser after the claims were decoded; the
	// claims are all we need.
	if err != nil && !errors.Is(err, jwt.ErrTokenUnverifiable) {
		return time.Time{}, fmt.Errorf("tokencache: reading JWT expiry: %w", jwt.ErrTokenMalformed)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil {
		return time.Time{}, fmt.Errorf("tokencache: reading JWT expiry: exp is not a number: %w", jwt.ErrInvalidType)
	}
	if exp == nil {
		return time.Time{}, ErrNoExpiry
	}
	if y := exp.Year(); y < 1970 || y > 9999 {
		return time.Time{}, errors.New("tokencache: reading JWT expiry: exp is out of range")
	}
	return exp.Time, nil
}
