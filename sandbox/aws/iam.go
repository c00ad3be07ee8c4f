package aws

// IAM emulation (awsquery protocol, API version 2010-05-08): roles, AWS and customer managed
// policies with versions, inline role policies, instance profiles and OpenID Connect providers.
//
// Wire shapes follow the aws-sdk-go-v2 IAM client (service/iam request_snapshot and
// response_snapshot, schemas/schemas.go): requests are form-encoded `Action=...&Version=2010-05-08`
// with lists as `Name.member.N`; responses are `<XxxResponse><XxxResult>` with lists as
// `<member>`; errors are `<ErrorResponse><Error><Type/><Code/><Message/></Error>` with the IAM
// error codes (NoSuchEntity 404, EntityAlreadyExists 409, DeleteConflict 409, LimitExceeded 409,
// MalformedPolicyDocument 400, ValidationError 400). Names are unique case-insensitively, as in IAM.

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// IAMNamespace is the XML namespace of every IAM response.
const IAMNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// iamTag is one resource tag, kept in insertion order as IAM lists them.
type iamTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type iamRole struct {
	name, path, id, arn, description string
	trust                            string // raw JSON as submitted
	maxSession                       int32  // seconds
	created                          time.Time
	tags                             []iamTag
	attached                         []string          // managed policy ARNs in attach order
	inline                           map[string]string // policy name -> raw JSON
}

type iamPolicyVersion struct {
	id      string // "v1", "v2", ...
	doc     string
	created time.Time
}

type iamPolicy struct {
	name, path, id, arn, description string
	created, updated                 time.Time
	versions                         []*iamPolicyVersion
	defaultVersion                   string
	nextVersion                      int
	awsManaged                       bool
	tags                             []iamTag
}

type iamInstanceProfile struct {
	name, path, id, arn string
	created             time.Time
	roleAdded           time.Time // when the last role was added (IAM propagation, see SetIAMPropagationDelay)
	roles               []string  // role keys (lower-case names); at most one
	tags                []iamTag
}

type iamOIDCProvider struct {
	arn, url    string // url without the https:// scheme, as IAM stores it
	clientIDs   []string
	thumbprints []string
	created     time.Time
	tags        []iamTag
}

// iamStore holds the account's IAM entities and the STS sessions issued from them. Guarded by
// Emulator.mu.
type iamStore struct {
	e        *Emulator
	roles    map[string]*iamRole            // lower-case role name
	policies map[string]*iamPolicy          // policy ARN
	profiles map[string]*iamInstanceProfile // lower-case instance profile name
	oidc     map[string]*iamOIDCProvider    // provider ARN
	sessions map[string]*stsSession         // temporary access key ID (ASIA...)
	// created is when the emulated account came up; DescribeCluster reports it as the EKS
	// cluster's createdAt.
	created time.Time
	// propagation is how long new entities stay unusable (SetIAMPropagationDelay).
	propagation time.Duration
}

func (s *iamStore) init(e *Emulator) {
	s.e = e
	s.roles = map[string]*iamRole{}
	s.policies = map[string]*iamPolicy{}
	s.profiles = map[string]*iamInstanceProfile{}
	s.oidc = map[string]*iamOIDCProvider{}
	s.sessions = map[string]*stsSession{}
	s.created = e.opts.Clock.Now().UTC().Truncate(time.Second)
	created := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	part := e.partition()
	for _, p := range awsManagedPolicies {
		s.policies[p.arn(part)] = &iamPolicy{
			name: p.Name, path: "/", id: p.ID, arn: p.arn(part), description: p.Description,
			created: created, updated: created, awsManaged: true, defaultVersion: "v1", nextVersion: 2,
			versions: []*iamPolicyVersion{{id: "v1", doc: p.document(part), created: created}},
		}
	}
}

func (s *iamStore) now() time.Time { return s.e.opts.Clock.Now().UTC().Truncate(time.Second) }

// instanceProfileArn resolves an instance profile given by name or ARN to its ARN; ok is false
// when no such profile exists. Caller holds e.mu.
func (s *iamStore) instanceProfileArn(nameOrArn string) (string, bool) {
	p := s.profileByNameOrArn(nameOrArn)
	if p == nil {
		return "", false
	}
	return p.arn, true
}

func (s *iamStore) profileByNameOrArn(nameOrArn string) *iamInstanceProfile {
	name := nameOrArn
	if strings.HasPrefix(nameOrArn, "arn:") {
		i := strings.LastIndex(nameOrArn, "/")
		if i < 0 {
			return nil
		}
		name = nameOrArn[i+1:]
		p := s.profiles[strings.ToLower(name)]
		if p == nil || p.arn != nameOrArn {
			return nil
		}
		return p
	}
	return s.profiles[strings.ToLower(name)]
}

// InstanceProfileRole resolves an instance profile, given by name or ARN, to the role it holds:
// the role's name and ARN. ok is false when the profile does not exist or holds no role (an
// instance launched with it could not obtain credentials, so the sandbox refuses its join).
func (e *Emulator) InstanceProfileRole(nameOrArn string) (roleName, roleArn string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.iam
	p := s.profileByNameOrArn(nameOrArn)
	if p == nil || len(p.roles) == 0 {
		return "", "", false
	}
	r := s.roles[p.roles[0]]
	if r == nil {
		return "", "", false
	}
	return r.name, r.arn, true
}

// CheckInstanceTrust returns nil if the trust policy of role roleArn lets the EC2 service
// principal of the emulator's partition (Partition.EC2ServicePrincipal: ec2.amazonaws.com,
// ec2.amazonaws.com.cn in China) perform sts:AssumeRole: the condition for an instance whose
// profile holds the role to get its credentials from instance metadata (IAM User Guide, "Use
// an IAM role to grant permissions to applications running on Amazon EC2 instances"), and so
// to authenticate to EKS as a node. Errors: no role has that ARN, or its trust does not allow
// the principal (the message names both).
func (e *Emulator) CheckInstanceTrust(roleArn string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	principal := e.partition().EC2ServicePrincipal()
	var trust string
	found := false
	for _, r := range e.state.iam.roles {
		if r.arn == roleArn {
			trust, found = r.trust, true
		}
	}
	if !found {
		return fmt.Errorf("role %s does not exist", roleArn)
	}
	if !trustAllows(trust, "Service", principal, "sts:AssumeRole", map[string][]string{}) {
		return fmt.Errorf("the trust policy of role %s does not let %s assume it (the EC2 service principal of partition %s), so its instances get no credentials",
			roleArn, principal, e.partition().ID)
	}
	return nil
}

// iamHandler runs one IAM action with the form values; it returns the result struct (nil for
// actions without output) or an *apiError. Called with e.mu held.
type iamHandler func(s *iamStore, form url.Values) (any, *apiError)

var iamActions = map[string]iamHandler{
	"CreateRole":                              (*iamStore).createRole,
	"GetRole":                                 (*iamStore).getRole,
	"ListRoles":                               (*iamStore).listRoles,
	"UpdateRole":                              (*iamStore).updateRole,
	"UpdateRoleDescription":                   (*iamStore).updateRoleDescription,
	"UpdateAssumeRolePolicy":                  (*iamStore).updateAssumeRolePolicy,
	"DeleteRole":                              (*iamStore).deleteRole,
	"TagRole":                                 tagEntity(roleTags),
	"UntagRole":                               untagEntity(roleTags),
	"ListRoleTags":                            listEntityTags(roleTags),
	"AttachRolePolicy":                        (*iamStore).attachRolePolicy,
	"DetachRolePolicy":                        (*iamStore).detachRolePolicy,
	"ListAttachedRolePolicies":                (*iamStore).listAttachedRolePolicies,
	"PutRolePolicy":                           (*iamStore).putRolePolicy,
	"GetRolePolicy":                           (*iamStore).getRolePolicy,
	"DeleteRolePolicy":                        (*iamStore).deleteRolePolicy,
	"ListRolePolicies":                        (*iamStore).listRolePolicies,
	"CreatePolicy":                            (*iamStore).createPolicy,
	"GetPolicy":                               (*iamStore).getPolicy,
	"ListPolicies":                            (*iamStore).listPolicies,
	"DeletePolicy":                            (*iamStore).deletePolicy,
	"GetPolicyVersion":                        (*iamStore).getPolicyVersion,
	"ListPolicyVersions":                      (*iamStore).listPolicyVersions,
	"CreatePolicyVersion":                     (*iamStore).createPolicyVersion,
	"DeletePolicyVersion":                     (*iamStore).deletePolicyVersion,
	"SetDefaultPolicyVersion":                 (*iamStore).setDefaultPolicyVersion,
	"ListEntitiesForPolicy":                   (*iamStore).listEntitiesForPolicy,
	"TagPolicy":                               tagEntity(policyTags),
	"UntagPolicy":                             untagEntity(policyTags),
	"ListPolicyTags":                          listEntityTags(policyTags),
	"CreateInstanceProfile":                   (*iamStore).createInstanceProfile,
	"GetInstanceProfile":                      (*iamStore).getInstanceProfile,
	"ListInstanceProfiles":                    (*iamStore).listInstanceProfiles,
	"DeleteInstanceProfile":                   (*iamStore).deleteInstanceProfile,
	"AddRoleToInstanceProfile":                (*iamStore).addRoleToInstanceProfile,
	"RemoveRoleFromInstanceProfile":           (*iamStore).removeRoleFromInstanceProfile,
	"ListInstanceProfilesForRole":             (*iamStore).listInstanceProfilesForRole,
	"TagInstanceProfile":                      tagEntity(profileTags),
	"UntagInstanceProfile":                    untagEntity(profileTags),
	"ListInstanceProfileTags":                 listEntityTags(profileTags),
	"CreateOpenIDConnectProvider":             (*iamStore).createOIDCProvider,
	"GetOpenIDConnectProvider":                (*iamStore).getOIDCProvider,
	"DeleteOpenIDConnectProvider":             (*iamStore).deleteOIDCProvider,
	"ListOpenIDConnectProviders":              (*iamStore).listOIDCProviders,
	"AddClientIDToOpenIDConnectProvider":      (*iamStore).addClientIDToOIDCProvider,
	"RemoveClientIDFromOpenIDConnectProvider": (*iamStore).removeClientIDFromOIDCProvider,
	"UpdateOpenIDConnectProviderThumbprint":   (*iamStore).updateOIDCThumbprint,
	"TagOpenIDConnectProvider":                tagEntity(oidcTags),
	"UntagOpenIDConnectProvider":              untagEntity(oidcTags),
	"ListOpenIDConnectProviderTags":           listEntityTags(oidcTags),
}

func (e *Emulator) serveIAM(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(r)
	if err != nil {
		writeQueryError(w, http.StatusBadRequest, "Sender", "MalformedQueryString", err.Error())
		return
	}
	action := form.Get("Action")
	h, ok := iamActions[action]
	if !ok {
		writeQueryError(w, http.StatusBadRequest, "Sender", "InvalidAction", "Could not find operation "+action+" for version 2010-05-08")
		return
	}
	e.mu.Lock()
	resource := e.state.iam.iamRequestResource(form)
	e.mu.Unlock()
	if aerr := e.authorize(r, "AccessDenied", "iam:"+action, resource, nil); aerr != nil {
		writeQueryError(w, aerr.Status, "Sender", aerr.Code, aerr.Message)
		return
	}
	e.mu.Lock()
	result, aerr := h(&e.state.iam, form)
	e.mu.Unlock()
	if aerr != nil {
		typ := "Sender"
		if aerr.Status >= 500 {
			typ = "Receiver"
		}
		writeQueryError(w, aerr.Status, typ, aerr.Code, aerr.Message)
		return
	}
	if result == nil {
		// Always write an (empty) <XxxResult>: the SDK's awsquery deserializer requires the
		// element whenever the operation declares an output shape, even an empty one.
		result = struct{}{}
	}
	writeQueryXML(w, action, IAMNamespace, result)
}

// --- errors ---

func iamNoSuchEntity(format string, args ...any) *apiError {
	return errorf(http.StatusNotFound, "NoSuchEntity", format, args...)
}
func iamAlreadyExists(format string, args ...any) *apiError {
	return errorf(http.StatusConflict, "EntityAlreadyExists", format, args...)
}
func iamDeleteConflict(format string, args ...any) *apiError {
	return errorf(http.StatusConflict, "DeleteConflict", format, args...)
}
func iamLimitExceeded(format string, args ...any) *apiError {
	return errorf(http.StatusConflict, "LimitExceeded", format, args...)
}
func iamValidation(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "ValidationError", format, args...)
}
func iamMalformedPolicy(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "MalformedPolicyDocument", format, args...)
}

// --- input validation (constraints from the IAM API reference, as encoded in the SDK's
// validators and schema traits: name patterns, lengths, ranges) ---

var (
	iamNameRE = regexp.MustCompile(`^[\w+=,.@-]+$`)
	// iamPathRE: "/" or "/" + printable ASCII + "/".
	iamPathRE = regexp.MustCompile(`^(/|/[\x21-\x7E]+/)$`)
)

// iamName returns the required name member key, validated against [\w+=,.@-]{1,max}.
func iamName(form url.Values, key string, max int) (string, *apiError) {
	v := form.Get(key)
	if v == "" {
		return "", iamValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(key))
	}
	if len(v) > max || !iamNameRE.MatchString(v) {
		return "", iamValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d and match pattern [\\w+=,.@-]+", v, lowerFirst(key), max)
	}
	return v, nil
}

// iamPath returns the optional path member key (default "/"), validated as IAM does.
func iamPath(form url.Values, key string) (string, *apiError) {
	v := form.Get(key)
	if v == "" {
		return "/", nil
	}
	if len(v) > 512 || !iamPathRE.MatchString(v) {
		return "", iamValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must begin and end with / and contain only printable ASCII characters", v, lowerFirst(key))
	}
	return v, nil
}

// iamRequired returns the required member key.
func iamRequired(form url.Values, key string) (string, *apiError) {
	v := form.Get(key)
	if v == "" {
		return "", iamValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(key))
	}
	return v, nil
}

// iamNameAndPath returns the required name member nameKey (at most max characters) and the
// optional Path member (default "/"), each validated as iamName and iamPath do.
func iamNameAndPath(form url.Values, nameKey string, max int) (name, path string, aerr *apiError) {
	if name, aerr = iamName(form, nameKey, max); aerr != nil {
		return "", "", aerr
	}
	if path, aerr = iamPath(form, "Path"); aerr != nil {
		return "", "", aerr
	}
	return name, path, nil
}

// iamDescription returns the optional Description member (at most 1000 characters).
func iamDescription(form url.Values) (string, *apiError) {
	desc := form.Get("Description")
	if len(desc) > 1000 {
		return "", iamValidation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000")
	}
	return desc, nil
}

// iamPolicyDocument returns the required JSON policy document member key, validated as a
// policy of the given kind (ValidationError when absent, MalformedPolicyDocument when invalid).
func iamPolicyDocument(form url.Values, key string, kind policyKind) (string, *apiError) {
	doc, aerr := iamRequired(form, key)
	if aerr != nil {
		return "", aerr
	}
	if aerr := validatePolicyDocument(doc, kind); aerr != nil {
		return "", aerr
	}
	return doc, nil
}

// iamInt parses the optional integer member key within [min,max]; absent gives def.
func iamInt(form url.Values, key string, def, min, max int64) (int64, *apiError) {
	s := form.Get(key)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min || n > max {
		return 0, iamValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be an integer between %d and %d", s, lowerFirst(key), min, max)
	}
	return n, nil
}

// iamTags parses Tags.member.N.Key/Value (at most 50; key 1-128, value 0-256 characters).
func iamTags(form url.Values) ([]iamTag, *apiError) {
	objs := formObjects(form, "Tags.member")
	if len(objs) > 50 {
		return nil, iamLimitExceeded("Cannot exceed quota for TagsPerRole: 50")
	}
	out := make([]iamTag, 0, len(objs))
	for i, o := range objs {
		k, v := o.Get("Key"), o.Get("Value")
		if k == "" || len(k) > 128 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, iamValidation("1 validation error detected: Value '%s' at 'tags.%d.member.key' failed to satisfy constraint: Member must have length between 1 and 128 and not begin with aws:", k, i+1)
		}
		if len(v) > 256 {
			return nil, iamValidation("1 validation error detected: Value at 'tags.%d.member.value' failed to satisfy constraint: Member must have length less than or equal to 256", i+1)
		}
		out = append(out, iamTag{Key: k, Value: v})
	}
	return out, nil
}

// mergeTags adds or overwrites tags, keeping first-insertion order; at most 50 in total.
func mergeTags(have, add []iamTag) ([]iamTag, *apiError) {
	out := append([]iamTag(nil), have...)
	for _, t := range add {
		found := false
		for i := range out {
			if out[i].Key == t.Key {
				out[i].Value = t.Value
				found = true
			}
		}
		if !found {
			out = append(out, t)
		}
	}
	if len(out) > 50 {
		return nil, iamLimitExceeded("Cannot exceed quota for TagsPerResource: 50")
	}
	return out, nil
}

func removeTags(have []iamTag, keys []string) []iamTag {
	drop := map[string]bool{}
	for _, k := range keys {
		drop[k] = true
	}
	var out []iamTag
	for _, t := range have {
		if !drop[t.Key] {
			out = append(out, t)
		}
	}
	return out
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// iamTagsOf finds the entity a Tag*, Untag* or List*Tags request names (or returns its
// NoSuchEntity/validation error) and returns the address of the entity's tag list.
type iamTagsOf func(s *iamStore, form url.Values) (*[]iamTag, *apiError)

// tagsOf makes an iamTagsOf from an entity lookup and the entity's tag field.
func tagsOf[T any](find func(*iamStore, url.Values) (T, *apiError), tags func(T) *[]iamTag) iamTagsOf {
	return func(s *iamStore, form url.Values) (*[]iamTag, *apiError) {
		v, aerr := find(s, form)
		if aerr != nil {
			return nil, aerr
		}
		return tags(v), nil
	}
}

var (
	roleTags    = tagsOf((*iamStore).role, func(r *iamRole) *[]iamTag { return &r.tags })
	policyTags  = tagsOf((*iamStore).policy, func(p *iamPolicy) *[]iamTag { return &p.tags })
	profileTags = tagsOf((*iamStore).profile, func(p *iamInstanceProfile) *[]iamTag { return &p.tags })
	oidcTags    = tagsOf((*iamStore).oidcProvider, func(p *iamOIDCProvider) *[]iamTag { return &p.tags })
)

// tagEntity is a Tag* action: it adds or overwrites the Tags.member.N of the entity (at most
// 50 tags in all, else LimitExceeded).
func tagEntity(find iamTagsOf) iamHandler {
	return func(s *iamStore, form url.Values) (any, *apiError) {
		have, aerr := find(s, form)
		if aerr != nil {
			return nil, aerr
		}
		tags, aerr := iamTags(form)
		if aerr != nil {
			return nil, aerr
		}
		merged, aerr := mergeTags(*have, tags)
		if aerr != nil {
			return nil, aerr
		}
		*have = merged
		return nil, nil
	}
}

// untagEntity is an Untag* action: it removes the entity's tags whose keys are TagKeys.member.N
// (absent keys are ignored).
func untagEntity(find iamTagsOf) iamHandler {
	return func(s *iamStore, form url.Values) (any, *apiError) {
		have, aerr := find(s, form)
		if aerr != nil {
			return nil, aerr
		}
		*have = removeTags(*have, formList(form, "TagKeys.member"))
		return nil, nil
	}
}

// listEntityTags is a List*Tags action: the entity's tags in insertion order, never truncated.
func listEntityTags(find iamTagsOf) iamHandler {
	return func(s *iamStore, form url.Values) (any, *apiError) {
		have, aerr := find(s, form)
		if aerr != nil {
			return nil, aerr
		}
		return tagsResult{Tags: append([]iamTag{}, *have...)}, nil
	}
}

// --- identifiers ---

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// newIAMID returns prefix + n random characters of the base32 alphabet IAM unique IDs use
// (e.g. "AROA" + 17 for roles, "ANPA" for policies, "AIPA" for instance profiles, "ASIA" + 16 for
// temporary access keys; 21 or 20 characters in all, as AWS issues them).
func newIAMID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return prefix + string(b)
}

// iamTime renders t as IAM does (ISO 8601, UTC, seconds).
func iamTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// urlEncodeDocument percent-encodes a policy document as IAM returns it (RFC 3986: every
// byte but the unreserved A-Z a-z 0-9 - _ . ~ escaped; space as %20).
func urlEncodeDocument(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

// --- pagination (Marker / MaxItems, as every IAM List* call) ---

// iamPageOf returns a copy of the page of all for the request's Marker and MaxItems (as
// iamPage), whether more follow, and the next marker.
func iamPageOf[T any](form url.Values, all []T) (page []T, truncated bool, next string, aerr *apiError) {
	start, end, truncated, next, aerr := iamPage(form, len(all))
	if aerr != nil {
		return nil, false, "", aerr
	}
	return append([]T{}, all[start:end]...), truncated, next, nil
}

// iamPage returns the window [start, end) of n items for the request's Marker and MaxItems
// (default 100, 1..1000), whether more follow, and the next marker.
func iamPage(form url.Values, n int) (start, end int, truncated bool, next string, aerr *apiError) {
	max, aerr := iamInt(form, "MaxItems", 100, 1, 1000)
	if aerr != nil {
		return 0, 0, false, "", aerr
	}
	if m := form.Get("Marker"); m != "" {
		v, err := strconv.Atoi(m)
		if err != nil || v < 0 || v > n {
			return 0, 0, false, "", iamValidation("Invalid Marker '%s'", m)
		}
		start = v
	}
	end = start + int(max)
	if end >= n {
		return start, n, false, "", nil
	}
	return start, end, true, strconv.Itoa(end), nil
}

func iamSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
