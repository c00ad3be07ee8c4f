package aws

// STS emulation (awsquery protocol, API version 2011-06-15): GetCallerIdentity and
// AssumeRoleWithWebIdentity, with the shapes of the aws-sdk-go-v2 STS client (service/sts
// request_snapshot/response_snapshot). AssumeRoleWithWebIdentity is sent unsigned by the SDK
// (auth scheme smithy.api#noAuth), which is why unsigned requests are routed here.

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// STSNamespace is the XML namespace of every STS response.
const STSNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// SandboxAdminUser is the IAM user the emulator reports for requests signed with the
// administrator key (Options.AdminAccessKeyID), the account's only long-term credential.
const SandboxAdminUser = "sandbox-admin"

// stsSession is a set of temporary credentials issued by AssumeRoleWithWebIdentity.
type stsSession struct {
	accessKeyID, secretAccessKey, sessionToken string
	roleArn, roleID, sessionName               string
	assumedRoleArn                             string
	expires                                    time.Time
	// tags are the session tags (EKS Pod Identity sets them); policies read them as
	// aws:PrincipalTag/<key>.
	tags map[string]string
}

func (e *Emulator) serveSTS(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(r)
	if err != nil {
		writeQueryError(w, http.StatusBadRequest, "Sender", "MalformedQueryString", err.Error())
		return
	}
	action := form.Get("Action")
	var (
		result any
		aerr   *apiError
	)
	switch {
	case action != "AssumeRoleWithWebIdentity" && r.Header.Get("Authorization") == "":
		// Only AssumeRoleWithWebIdentity is sent unsigned; ServeHTTP verified every signed request.
		aerr = errorf(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
	case action == "GetCallerIdentity":
		result, aerr = e.getCallerIdentity(r)
	case action == "AssumeRoleWithWebIdentity":
		result, aerr = e.assumeRoleWithWebIdentity(form)
	case action == "AssumeRole":
		result, aerr = e.assumeRole(r, form)
	default:
		aerr = errorf(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version 2011-06-15", action)
	}
	if aerr != nil {
		typ := "Sender"
		if aerr.Status >= 500 {
			typ = "Receiver"
		}
		writeQueryError(w, aerr.Status, typ, aerr.Code, aerr.Message)
		return
	}
	writeQueryXML(w, action, STSNamespace, result)
}

type callerIdentityResult struct {
	UserId  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

// requestAccessKeyID returns the access key ID of the request's SigV4 credential scope, or "".
func requestAccessKeyID(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return ""
	}
	cred := auth[i+len("Credential="):]
	if j := strings.IndexByte(cred, '/'); j >= 0 {
		return cred[:j]
	}
	return ""
}

// getCallerIdentity answers for the credentials that signed r: an assumed-role session issued
// by AssumeRoleWithWebIdentity (its session token must accompany it and it must not have
// expired), or otherwise the account's sandbox-admin user.
func (e *Emulator) getCallerIdentity(r *http.Request) (any, *apiError) {
	akid := requestAccessKeyID(r)
	if akid == "" {
		return nil, errorf(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
	}
	acct := e.opts.AccountID
	sess, aerr := e.requestSession(r)
	if aerr != nil {
		return nil, aerr
	}
	if sess == nil {
		return callerIdentityResult{
			UserId: "AIDA" + strings.Repeat("S", 17), Account: acct,
			Arn: e.iamARN("user/" + SandboxAdminUser),
		}, nil
	}
	return callerIdentityResult{UserId: sess.roleID + ":" + sess.sessionName, Account: acct, Arn: sess.assumedRoleArn}, nil
}

// requestSession checks the temporary credentials that signed r, as every AWS service does:
// for an access key ID of the temporary form (ASIA...), the session must have been issued by
// this emulator, the X-Amz-Security-Token header must carry its session token, and it must not
// have expired. It returns the session (nil for the administrator key, the only long-term
// credential that passes authenticate), or an error with the query-protocol codes
// InvalidClientTokenId / ExpiredToken (HTTP 403); JSON protocols map these codes with
// jsonCredentialError. ServeHTTP has already verified the request's signature.
func (e *Emulator) requestSession(r *http.Request) (*stsSession, *apiError) {
	akid := requestAccessKeyID(r)
	if !strings.HasPrefix(akid, "ASIA") {
		return nil, nil
	}
	e.mu.Lock()
	sess := e.state.iam.sessions[akid]
	now := e.opts.Clock.Now()
	e.mu.Unlock()
	if sess == nil || r.Header.Get("X-Amz-Security-Token") != sess.sessionToken {
		return nil, errorf(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	if !now.Before(sess.expires) {
		return nil, errorf(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired")
	}
	return sess, nil
}

// jsonCredentialError maps a requestSession error to the code the JSON protocols (EKS, SSM)
// use: UnrecognizedClientException (403) or ExpiredTokenException (403).
func jsonCredentialError(aerr *apiError) *apiError {
	if aerr.Code == "ExpiredToken" {
		return errorf(http.StatusForbidden, "ExpiredTokenException", "The security token included in the request is expired")
	}
	return errorf(http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
}

type assumedRoleUser struct {
	AssumedRoleId string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

type stsCredentials struct {
	AccessKeyId     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumeRoleWithWebIdentityResult struct {
	Credentials                 stsCredentials  `xml:"Credentials"`
	SubjectFromWebIdentityToken string          `xml:"SubjectFromWebIdentityToken"`
	AssumedRoleUser             assumedRoleUser `xml:"AssumedRoleUser"`
	PackedPolicySize            int             `xml:"PackedPolicySize"`
	Provider                    string          `xml:"Provider"`
	Audience                    string          `xml:"Audience"`
}

var roleSessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// roleArnRE: arn:<partition>:iam::<12-digit account>:role[/path/]<name>; submatches: partition,
// account, path, name. A role ARN of another partition than the emulator's names no role of
// its account (the stored ARN differs).
var roleArnRE = regexp.MustCompile(`^arn:(aws[a-z-]*):iam::(\d{12}):role(/|/[\x21-\x7E]*/)?([\w+=,.@-]{1,64})$`)

func stsValidation(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "ValidationError", format, args...)
}

func stsAccessDenied() *apiError {
	return errorf(http.StatusForbidden, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
}

// assumeRoleWithWebIdentity exchanges a service-account token for temporary credentials of
// RoleArn. The token must verify against Options.ServiceAccountPublicKeyPEM, come from
// Options.OIDCIssuerURL, which must be registered as an IAM OIDC provider whose client IDs
// include the token's audience, be unexpired, and the role's trust policy must allow the
// provider (Principal.Federated) to perform sts:AssumeRoleWithWebIdentity given the condition
// keys "<issuer host/path>:sub", ":aud" and ":amr" of the token. DurationSeconds: 900 to the
// role's MaxSessionDuration (default 3600).
func (e *Emulator) assumeRoleWithWebIdentity(form url.Values) (any, *apiError) {
	roleArn := form.Get("RoleArn")
	if roleArn == "" {
		return nil, stsValidation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null")
	}
	m := roleArnRE.FindStringSubmatch(roleArn)
	if m == nil {
		return nil, stsValidation("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: Member must be a role ARN", roleArn)
	}
	session := form.Get("RoleSessionName")
	if !roleSessionNameRE.MatchString(session) {
		return nil, stsValidation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*", session)
	}
	token := form.Get("WebIdentityToken")
	if len(token) < 4 || len(token) > 20000 {
		return nil, stsValidation("1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and 20000")
	}
	duration, aerr := formInt(form, "DurationSeconds", 3600)
	if aerr != nil {
		return nil, stsValidation("%s", aerr.Message)
	}
	if form.Get("ProviderId") != "" {
		return nil, stsValidation("ProviderId is only valid for OAuth 2.0 access tokens, not OpenID Connect ID tokens")
	}

	claims, aerr := verifyWebIdentityToken(token, e.opts.ServiceAccountPublicKeyPEM)
	if aerr != nil {
		return nil, aerr
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.iam
	now := e.opts.Clock.Now()

	if claims.Issuer != strings.TrimSuffix(e.opts.OIDCIssuerURL, "/") && claims.Issuer != e.opts.OIDCIssuerURL {
		return nil, errorf(http.StatusBadRequest, "InvalidIdentityToken", "No OpenIDConnect provider found in your account for %s", claims.Issuer)
	}
	prov := s.oidcProviderByIssuer(claims.Issuer)
	if prov == nil {
		return nil, errorf(http.StatusBadRequest, "InvalidIdentityToken", "No OpenIDConnect provider found in your account for %s", claims.Issuer)
	}
	aud := ""
	for _, a := range claims.Audience {
		for _, id := range prov.clientIDs {
			if a == id && aud == "" {
				aud = a
			}
		}
	}
	if aud == "" {
		return nil, errorf(http.StatusBadRequest, "InvalidIdentityToken", "Incorrect token audience")
	}
	if aerr := checkTokenTimes(claims, now); aerr != nil {
		return nil, aerr
	}

	if m[2] != e.opts.AccountID {
		return nil, stsAccessDenied()
	}
	role := s.roles[strings.ToLower(m[4])]
	if role == nil || role.arn != roleArn {
		return nil, stsAccessDenied()
	}
	if duration < 900 || duration > int64(role.maxSession) {
		return nil, stsValidation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	ctx := map[string][]string{
		prov.url + ":sub": {claims.Subject},
		prov.url + ":aud": {aud},
		prov.url + ":amr": {"authenticated"},
	}
	if !trustAllows(role.trust, "Federated", prov.arn, "sts:AssumeRoleWithWebIdentity", ctx) {
		return nil, stsAccessDenied()
	}

	sess := e.newSession(role, session, now.Add(time.Duration(duration)*time.Second))
	return assumeRoleWithWebIdentityResult{
		Credentials:                 sess.credentials(),
		SubjectFromWebIdentityToken: claims.Subject,
		AssumedRoleUser:             assumedRoleUser{AssumedRoleId: role.id + ":" + session, Arn: sess.assumedRoleArn},
		Provider:                    prov.arn,
		Audience:                    aud,
	}, nil
}

// newSession issues temporary credentials of role named session, valid until expires.
// Caller holds e.mu.
func (e *Emulator) newSession(role *iamRole, session string, expires time.Time) *stsSession {
	sess := &stsSession{
		accessKeyID:     newIAMID("ASIA", 16),
		secretAccessKey: randomToken(30),
		sessionToken:    randomToken(96),
		roleArn:         role.arn, roleID: role.id, sessionName: session,
		assumedRoleArn: e.partition().ARN("sts", "", e.opts.AccountID, "assumed-role/"+role.name+"/"+session),
		expires:        expires.UTC().Truncate(time.Second),
	}
	e.state.iam.sessions[sess.accessKeyID] = sess
	return sess
}

// credentials renders the session's credentials as STS returns them.
func (s *stsSession) credentials() stsCredentials {
	return stsCredentials{AccessKeyId: s.accessKeyID, SecretAccessKey: s.secretAccessKey,
		SessionToken: s.sessionToken, Expiration: iamTime(s.expires)}
}

type assumeRoleResult struct {
	Credentials      stsCredentials  `xml:"Credentials"`
	AssumedRoleUser  assumedRoleUser `xml:"AssumedRoleUser"`
	PackedPolicySize int             `xml:"PackedPolicySize"`
}

// assumeRole issues temporary credentials of RoleArn to the signed caller (STS API Reference,
// AssumeRole). The caller must be allowed sts:AssumeRole on the role by its own policies
// (the administrator always is), and the role's trust policy must allow it as an "AWS"
// principal: by its ARN (the administrator's user ARN, or a session's assumed-role or role
// ARN) or by the account root ARN, which trusts every principal of the account (IAM User
// Guide, "AWS JSON policy elements: Principal"). DurationSeconds: 900 to the role's
// MaxSessionDuration (default 3600).
func (e *Emulator) assumeRole(r *http.Request, form url.Values) (any, *apiError) {
	roleArn := form.Get("RoleArn")
	m := roleArnRE.FindStringSubmatch(roleArn)
	if m == nil {
		return nil, stsValidation("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: Member must be a role ARN", roleArn)
	}
	session := form.Get("RoleSessionName")
	if !roleSessionNameRE.MatchString(session) {
		return nil, stsValidation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*", session)
	}
	duration, aerr := formInt(form, "DurationSeconds", 3600)
	if aerr != nil {
		return nil, stsValidation("%s", aerr.Message)
	}
	if aerr := e.authorize(r, "AccessDenied", "sts:AssumeRole", roleArn, nil); aerr != nil {
		return nil, aerr
	}
	caller, aerr := e.requestSession(r)
	if aerr != nil {
		return nil, aerr
	}
	acct := e.opts.AccountID
	principals := []string{e.iamARN("root"), e.iamARN("user/" + SandboxAdminUser)}
	if caller != nil {
		principals = []string{e.iamARN("root"), caller.assumedRoleArn, caller.roleArn}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	role := e.state.iam.roles[strings.ToLower(m[4])]
	denied := errorf(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", principals[1], roleArn)
	if m[2] != acct || role == nil || role.arn != roleArn {
		return nil, denied
	}
	trusted := false
	for _, p := range principals {
		ctx := map[string][]string{"aws:PrincipalArn": {principals[1]}, "aws:PrincipalAccount": {acct}}
		trusted = trusted || trustAllows(role.trust, "AWS", p, "sts:AssumeRole", ctx)
	}
	if !trusted {
		return nil, denied
	}
	if duration < 900 || duration > int64(role.maxSession) {
		return nil, stsValidation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	sess := e.newSession(role, session, e.opts.Clock.Now().Add(time.Duration(duration)*time.Second))
	return assumeRoleResult{
		Credentials:     sess.credentials(),
		AssumedRoleUser: assumedRoleUser{AssumedRoleId: role.id + ":" + session, Arn: sess.assumedRoleArn},
	}, nil
}

// randomToken returns n random bytes, base64 (standard alphabet) encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
