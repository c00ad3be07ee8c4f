package aws

// Authentication of every request by its AWS Signature Version 4 (AWS General Reference,
// "Signature Version 4 signing process"; IAM User Guide, "Elements of an AWS API request
// signature"). The emulator recomputes each signature with aws-sdk-go-v2's own signer
// (aws/signer/v4) from the request's signed headers, its body's SHA-256 and the secret of the
// credential named in the Authorization header, and refuses a mismatch with the code the
// service's protocol uses.
//
// Credentials the emulator accepts:
//   - the administrator key (Options.AdminAccessKeyID / AdminSecretAccessKey; by default
//     DefaultAdminAccessKeyID / DefaultAdminSecretAccessKey): the sandbox account's root key,
//     which Terraform and test set-up use; it may do anything;
//   - temporary credentials (ASIA...) issued by sts:AssumeRole or
//     sts:AssumeRoleWithWebIdentity, with their session token, until they expire; every call
//     made with them is authorised against the role's policies (iam_authz.go).
//
// Any other access key ID is unknown (InvalidClientTokenId and its per-protocol forms).

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The sandbox account's administrator key: the only long-term credential the emulator knows.
const (
	DefaultAdminAccessKeyID     = "AKIASANDBOXEXAMPLE01"
	DefaultAdminSecretAccessKey = "sandbox/admin/secret/access/key/0000001"
)

// maxClockSkew is how far X-Amz-Date may be from the server's time (AWS General Reference:
// "the request must reach AWS within five minutes of the time stamp"; services refuse at 15
// minutes with RequestExpired / "Signature expired").
const maxClockSkew = 15 * time.Minute

// amzDateFormat is the ISO 8601 basic format of X-Amz-Date.
const amzDateFormat = "20060102T150405Z"

// authFailure names why a request's credentials were refused; authError renders it in the code
// of the request's protocol.
type authFailure int

const (
	authMissing      authFailure = iota // no Authorization header on a call that needs one
	authIncomplete                      // Authorization or X-Amz-Date malformed
	authUnknownKey                      // access key ID (or session token) not known
	authBadSignature                    // the signature does not match the secret
	authExpiredToken                    // temporary credentials past their expiry
	authSkew                            // X-Amz-Date more than 15 minutes from now
)

// authCodes maps each failure to (HTTP status, code, message) per protocol family: "ec2"
// (EC2 query), "query" (IAM and STS awsquery) and "json" (EKS rest-json, SSM and Pricing
// JSON 1.1). Sources: EC2 API Reference "Error codes" (AuthFailure, RequestExpired,
// IncompleteSignature, MissingAuthenticationToken); IAM and STS API Reference "Common Errors"
// (InvalidClientTokenId, SignatureDoesNotMatch, ExpiredToken); the JSON services' "Common
// Errors" (UnrecognizedClientException, InvalidSignatureException, ExpiredTokenException).
var authCodes = map[string]map[authFailure]apiError{
	"ec2": {
		authMissing:      {http.StatusUnauthorized, "MissingAuthenticationToken", "Request is missing Authentication Token"},
		authIncomplete:   {http.StatusBadRequest, "IncompleteSignature", "%s"},
		authUnknownKey:   {http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials"},
		authBadSignature: {http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials"},
		authExpiredToken: {http.StatusBadRequest, "RequestExpired", "Request has expired."},
		authSkew:         {http.StatusBadRequest, "RequestExpired", "Request has expired. %s"},
	},
	"query": {
		authMissing:      {http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"},
		authIncomplete:   {http.StatusBadRequest, "IncompleteSignature", "%s"},
		authUnknownKey:   {http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."},
		authBadSignature: {http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		authExpiredToken: {http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired"},
		authSkew:         {http.StatusForbidden, "SignatureDoesNotMatch", "Signature expired: %s"},
	},
	"json": {
		authMissing:      {http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		authIncomplete:   {http.StatusBadRequest, "IncompleteSignatureException", "%s"},
		authUnknownKey:   {http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."},
		authBadSignature: {http.StatusForbidden, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		authExpiredToken: {http.StatusForbidden, "ExpiredTokenException", "The security token included in the request is expired"},
		authSkew:         {http.StatusForbidden, "InvalidSignatureException", "Signature expired: %s"},
	},
}

// protocolFamily returns the authCodes family of a signing service name.
func protocolFamily(service string) string {
	switch service {
	case "ec2":
		return "ec2"
	case "iam", "sts", "":
		return "query"
	}
	return "json"
}

// authError renders failure f for service; detail fills the message's %s where it has one.
func authError(service string, f authFailure, detail string) *apiError {
	c := authCodes[protocolFamily(service)][f]
	msg := c.Message
	if strings.Contains(msg, "%s") {
		msg = fmt.Sprintf(msg, detail)
	}
	return &apiError{Status: c.Status, Code: c.Code, Message: msg}
}

// writeAuthError writes aerr in the error shape of service's protocol.
func writeAuthError(w http.ResponseWriter, service string, aerr *apiError) {
	switch protocolFamily(service) {
	case "ec2":
		writeEC2Error(w, aerr.Status, aerr.Code, aerr.Message)
	case "query":
		writeQueryError(w, aerr.Status, "Sender", aerr.Code, aerr.Message)
	default:
		if service == "eks" {
			writeRestJSONError(w, aerr.Status, aerr.Code, aerr.Message)
			return
		}
		writeSSMError(w, aerr.Status, aerr.Code, aerr.Message)
	}
}

// sigV4Auth is the parsed Authorization header of a SigV4-signed request.
type sigV4Auth struct {
	AccessKeyID, Date, Region, Service string
	SignedHeaders                      []string // lower case, as sent
	Signature                          string   // hex
}

// parseSigV4Authorization parses "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
// SignedHeaders=h1;h2, Signature=hex". problem is "" or says, in AWS's words, what is malformed.
func parseSigV4Authorization(h string) (a sigV4Auth, problem string) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return a, "Authorization header requires the AWS4-HMAC-SHA256 algorithm"
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Sprintf("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' key=value pairs (got %q)", part)
		}
		fields[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return a, "Authorization header requires '" + k + "' parameter"
		}
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" {
		return a, fmt.Sprintf("Credential should be scoped to a valid access key, date, region and service: %q", fields["Credential"])
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	a.SignedHeaders = strings.Split(fields["SignedHeaders"], ";")
	a.Signature = fields["Signature"]
	return a, ""
}

// authenticate verifies r's SigV4 signature. It returns the assumed-role session that signed
// r, or nil for the administrator key, or an error in the codes of service's protocol. It
// reads and restores r.Body.
func (e *Emulator) authenticate(r *http.Request, service string) (*stsSession, *apiError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, authError(service, authMissing, "")
	}
	a, problem := parseSigV4Authorization(h)
	if problem != "" {
		return nil, authError(service, authIncomplete, problem)
	}
	signedAt, err := time.Parse(amzDateFormat, r.Header.Get("X-Amz-Date"))
	if err != nil {
		return nil, authError(service, authIncomplete, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if signedAt.Format("20060102") != a.Date {
		return nil, authError(service, authIncomplete, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '"+a.Date+"' != '"+signedAt.Format("20060102")+"'")
	}
	now := e.opts.SignatureClock.Now()
	if d := now.Sub(signedAt); d > maxClockSkew || d < -maxClockSkew {
		return nil, authError(service, authSkew, fmt.Sprintf("%s is now earlier than %s (%s - 15 min.)",
			signedAt.Format(amzDateFormat), now.Add(-maxClockSkew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat)))
	}

	secret, sess, f := e.credentialSecret(a.AccessKeyID, r.Header.Get("X-Amz-Security-Token"))
	if f != nil {
		return nil, authError(service, *f, "")
	}
	ok, err := verifySigV4(r, a, signedAt, secret)
	if err != nil {
		return nil, authError(service, authIncomplete, err.Error())
	}
	if !ok {
		return nil, authError(service, authBadSignature, "")
	}
	if sess != nil && !e.opts.Clock.Now().Before(sess.expires) {
		return nil, authError(service, authExpiredToken, "")
	}
	return sess, nil
}

// credentialSecret returns the secret access key of akid (and its session for temporary
// credentials, whose session token must equal token), or the failure.
func (e *Emulator) credentialSecret(akid, token string) (string, *stsSession, *authFailure) {
	unknown := authUnknownKey
	if akid == e.opts.AdminAccessKeyID {
		return e.opts.AdminSecretAccessKey, nil, nil
	}
	e.mu.Lock()
	sess := e.state.iam.sessions[akid]
	e.mu.Unlock()
	if sess == nil || !hmac.Equal([]byte(token), []byte(sess.sessionToken)) {
		return "", nil, &unknown
	}
	return sess.secretAccessKey, sess, nil
}

// verifySigV4 recomputes the signature of r over exactly the headers the client signed with
// aws-sdk-go-v2's signer and compares it with a.Signature. The payload hash is the SHA-256 of
// the body (an X-Amz-Content-Sha256 header, when sent, must equal it). An error means the
// request could not be re-signed (e.g. an unreadable body).
func verifySigV4(r *http.Request, a sigV4Auth, signedAt time.Time, secret string) (bool, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
		if err != nil {
			return false, fmt.Errorf("reading request body: %w", err)
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return false, nil
	}
	re := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Host:   r.Host,
		Header: http.Header{},
	}
	for _, name := range a.SignedHeaders {
		switch name {
		case "host":
		case "content-length":
			re.ContentLength = int64(len(body))
		default:
			re.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
		}
	}
	creds := aws.Credentials{AccessKeyID: a.AccessKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, re, payloadHash, a.Service, a.Region, signedAt); err != nil {
		return false, err
	}
	got, problem := parseSigV4Authorization(re.Header.Get("Authorization"))
	if problem != "" {
		return false, fmt.Errorf("re-signing: %s", problem)
	}
	if strings.Join(got.SignedHeaders, ";") != strings.Join(a.SignedHeaders, ";") {
		return false, nil
	}
	return hmac.Equal([]byte(got.Signature), []byte(a.Signature)), nil
}
