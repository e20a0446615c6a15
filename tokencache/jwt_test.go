package tokencache_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/tokencache"
)

// rawJWT builds a token from literal header and claims JSON, unsigned.
func rawJWT(header, claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(claims)) + ".c2lnbmF0dXJl"
}

func signedJWT(t testing.TB, claims jwt.Claims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("test-key-test-key-test-key-32byt"))
	require.NoError(t, err)
	return s
}

func TestJWTExpiry(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	got, err := tokencache.JWTExpiry(signedJWT(t, jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(exp)}))
	require.NoError(t, err)
	require.True(t, exp.Equal(got), "got %v", got)

	// A fractional exp (to the second, as golang-jwt reads it) and an
	// unknown alg are read all the same.
	got, err = tokencache.JWTExpiry(rawJWT(`{"alg":"XY999"}`, `{"exp":1893553445.5}`))
	require.NoError(t, err)
	require.Equal(t, int64(1893553445), got.Unix())

	for _, tc := range []struct {
		name, token string
		is          error
	}{
		{"opaque", "d41d8cd98f00b204e9800998ecf8427e", jwt.ErrTokenMalformed},
		{"empty", "", jwt.ErrTokenMalformed},
		{"four segments", "a.b.c.d", jwt.ErrTokenMalformed},
		{"bad base64", "!!!.???.sig", jwt.ErrTokenMalformed},
		{"claims not JSON", rawJWT(`{"alg":"HS256"}`, `exp=1`), jwt.ErrTokenMalformed},
		{"claims an array", rawJWT(`{"alg":"HS256"}`, `[1,2]`), jwt.ErrTokenMalformed},
		{"exp a string", rawJWT(`{"alg":"HS256"}`, `{"exp":"tomorrow"}`), jwt.ErrInvalidType},
		{"no exp", signedJWT(t, jwt.RegisteredClaims{Subject: "x"}), tokencache.ErrNoExpiry},
		{"exp zero", rawJWT(`{"alg":"HS256"}`, `{"exp":0}`), tokencache.ErrNoExpiry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tokencache.JWTExpiry(tc.token)
			require.ErrorIs(t, err, tc.is)
		})
	}
	for _, claims := range []string{`{"exp":1e300}`, `{"exp":-1e300}`, `{"exp":-5}`, `{"exp":253402300800}`} {
		_, err := tokencache.JWTExpiry(rawJWT(`{"alg":"HS256"}`, claims))
		require.ErrorContains(t, err, "out of range", claims)
	}
}

// jwtExpiryErrors is every error text JWTExpiry may return: fixed strings,
// so no part of a token can ever reach an error.
var jwtExpiryErrors = map[string]bool{
	"tokencache: reading JWT expiry: token is malformed":                          true,
	"tokencache: reading JWT expiry: exp is not a number: invalid type for claim": true,
	"tokencache: JWT has no exp claim":                                            true,
	"tokencache: reading JWT expiry: exp is out of range":                         true,
}

func FuzzJWTExpiry(f *testing.F) {
	f.Add(signedJWT(f, jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(time.Unix(1893553445, 0))}))
	f.Add(signedJWT(f, jwt.RegisteredClaims{}))
	for _, claims := range []string{`{"exp":1e300}`, `{"exp":-1}`, `{"exp":"x"}`, `{"exp":null}`, `{"exp":[1]}`, `null`, `[]`, `{"exp":1.5e9}`, `{"exp":9223372036854775807}`} {
		f.Add(rawJWT(`{"alg":"HS256"}`, claims))
	}
	f.Add(rawJWT(`{"alg":"none"}`, `{"exp":1}`))
	f.Add(rawJWT(`null`, `{"exp":1}`))
	f.Add("")
	f.Add("..")
	f.Add("a.b.c")
	f.Add("opaque-token")
	f.Fuzz(func(t *testing.T, token string) {
		exp, err := tokencache.JWTExpiry(token)
		if err != nil {
			if !jwtExpiryErrors[err.Error()] {
				t.Fatalf("unexpected error text %q", err.Error())
			}
			return
		}
		if y := exp.Year(); y < 1970 || y > 9999 {
			t.Fatalf("accepted expiry %v outside the documented range", exp)
		}
	})
}
