package aws

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// webIdentityAlgorithms are the JWS algorithms accepted for web identity tokens: the RSA and
// ECDSA algorithms kube-apiserver signs service-account tokens with (RS256 for RSA keys,
// ES256/384/512 for ECDSA keys), plus the other RSA variants STS accepts.
var webIdentityAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
}

// tokenClockSkew is the leeway allowed on exp/nbf/iat (AWS does not document one; the value
// is go-jose's DefaultLeeway).
const tokenClockSkew = jwt.DefaultLeeway

// parsePublicKeys reads every PUBLIC KEY / RSA PUBLIC KEY block of a PEM bundle.
func parsePublicKeys(pemBytes []byte) ([]any, error) {
	var keys []any
	for {
		var block *pem.Block
		block, pemBytes = pem.Decode(pemBytes)
		if block == nil {
			break
		}
		switch block.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no PUBLIC KEY block")
	}
	return keys, nil
}

func invalidIdentityToken(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "InvalidIdentityToken", format, args...)
}

// verifyWebIdentityToken parses a compact JWS and verifies its signature against any key of
// pubPEM; it returns the registered claims (not yet checked for issuer, audience or time) or
// InvalidIdentityToken.
func verifyWebIdentityToken(token string, pubPEM []byte) (jwt.Claims, *apiError) {
	var claims jwt.Claims
	tok, err := jwt.ParseSigned(token, webIdentityAlgorithms)
	if err != nil {
		return claims, invalidIdentityToken("Couldn't parse the web identity token: %v", err)
	}
	keys, err := parsePublicKeys(pubPEM)
	if err != nil {
		return claims, invalidIdentityToken("The web identity token cannot be verified: the emulator has no usable service-account public key (%v)", err)
	}
	for _, k := range keys {
		if err := tok.Claims(k, &claims); err == nil {
			if claims.Issuer == "" || claims.Subject == "" || len(claims.Audience) == 0 || claims.Expiry == nil {
				return claims, invalidIdentityToken("The web identity token is missing one of the required claims iss, sub, aud, exp")
			}
			return claims, nil
		}
	}
	return claims, invalidIdentityToken("The web identity token signature could not be verified with the issuer's keys")
}

// checkTokenTimes validates exp, nbf and iat against now: an expired token is
// ExpiredTokenException, a not-yet-valid one InvalidIdentityToken.
func checkTokenTimes(c jwt.Claims, now time.Time) *apiError {
	err := c.ValidateWithLeeway(jwt.Expected{Time: now}, tokenClockSkew)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrExpired):
		return errorf(http.StatusBadRequest, "ExpiredTokenException", "Token expired: current date/time %s must be before the expiration date/time %s",
			iamTime(now), iamTime(c.Expiry.Time()))
	default:
		return invalidIdentityToken("The web identity token is not valid yet or was issued in the future: %v", err)
	}
}
