package aws

// EKS access entries and Pod Identity associations (rest-json), with the HTTP bindings and
// member names of the aws-sdk-go-v2 EKS client (service/eks/schemas): CreateAccessEntry
// (POST /clusters/{clusterName}/access-entries), DescribeAccessEntry and DeleteAccessEntry
// (GET/DELETE /clusters/{clusterName}/access-entries/{principalArn}), ListAccessEntries (GET
// .../access-entries?maxResults&nextToken), and the same four for
// /clusters/{clusterName}/pod-identity-associations[/{associationId}]. Behaviour follows the
// Amazon EKS User Guide ("Grant IAM users access to Kubernetes with EKS access entries",
// "Learn how EKS Pod Identity grants pods access to AWS services") and the EKS API Reference.

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Authentication modes of an EKS cluster (EKS API Reference, AccessConfigResponse).
const (
	AuthModeConfigMap       = "CONFIG_MAP"
	AuthModeAPIAndConfigMap = "API_AND_CONFIG_MAP"
	AuthModeAPI             = "API"
)

// AuthModes are the authentication modes, in the only order EKS lets a cluster move through
// them (CONFIG_MAP -> API_AND_CONFIG_MAP -> API).
var AuthModes = []string{AuthModeConfigMap, AuthModeAPIAndConfigMap, AuthModeAPI}

// CheckAuthMode returns nil when mode is one of AuthModes, else an error listing them ("must be
// CONFIG_MAP, API_AND_CONFIG_MAP or API"); the caller names the flag and the value given.
func CheckAuthMode(mode string) error {
	if slices.Contains(AuthModes, mode) {
		return nil
	}
	return errors.New("must be " + AuthModeConfigMap + ", " + AuthModeAPIAndConfigMap + " or " + AuthModeAPI)
}

// Access entry types the emulator accepts (EKS API Reference, CreateAccessEntry "type").
const (
	AccessEntryStandard     = "STANDARD"
	AccessEntryEC2Linux     = "EC2_LINUX"
	AccessEntryEC2Windows   = "EC2_WINDOWS"
	AccessEntryFargateLinux = "FARGATE_LINUX"
)

// eksStore is the cluster's access configuration. Guarded by Emulator.mu.
type eksStore struct {
	authMode     string
	entries      map[string]*eksAccessEntry // principal ARN
	associations map[string]*eksPodIdentity // association ID
}

type eksAccessEntry struct {
	ClusterName      string            `json:"clusterName"`
	PrincipalArn     string            `json:"principalArn"`
	KubernetesGroups []string          `json:"kubernetesGroups"`
	AccessEntryArn   string            `json:"accessEntryArn"`
	CreatedAt        float64           `json:"createdAt"`
	ModifiedAt       float64           `json:"modifiedAt"`
	Tags             map[string]string `json:"tags"`
	Username         string            `json:"username"`
	Type             string            `json:"type"`
}

type eksPodIdentity struct {
	ClusterName        string            `json:"clusterName"`
	Namespace          string            `json:"namespace"`
	ServiceAccount     string            `json:"serviceAccount"`
	RoleArn            string            `json:"roleArn"`
	AssociationArn     string            `json:"associationArn"`
	AssociationID      string            `json:"associationId"`
	Tags               map[string]string `json:"tags"`
	CreatedAt          float64           `json:"createdAt"`
	ModifiedAt         float64           `json:"modifiedAt"`
	DisableSessionTags bool              `json:"disableSessionTags"`
}

func (s *eksStore) init(e *Emulator) {
	s.authMode = e.opts.AuthenticationMode
	s.entries = map[string]*eksAccessEntry{}
	s.associations = map[string]*eksPodIdentity{}
}

// AuthenticationMode returns the cluster's authentication mode (AuthModeConfigMap,
// AuthModeAPIAndConfigMap or AuthModeAPI).
func (e *Emulator) AuthenticationMode() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state.eks.authMode
}

// SetAuthenticationMode changes the cluster's authentication mode, as EKS UpdateClusterConfig
// does; EKS allows only CONFIG_MAP -> API_AND_CONFIG_MAP -> API, never back, and so does this.
// Access entries are kept.
func (e *Emulator) SetAuthenticationMode(mode string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	order := AuthModes
	to, from := slices.Index(order, mode), slices.Index(order, e.state.eks.authMode)
	if to < 0 {
		return errorf(http.StatusBadRequest, "InvalidParameterException", "authenticationMode %q is not one of %v", mode, order)
	}
	if to < from {
		return errorf(http.StatusBadRequest, "InvalidParameterException", "Unsupported authentication mode update from %s to %s", e.state.eks.authMode, mode)
	}
	e.state.eks.authMode = mode
	return nil
}

// AccessEntryType returns the type of the access entry of principalArn (compared as given and
// without the role's path, as EKS stores role ARNs without it), if there is one.
func (e *Emulator) AccessEntryType(principalArn string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range []string{principalArn, stripRolePathARN(principalArn)} {
		if en := e.state.eks.entries[a]; en != nil {
			return en.Type, true
		}
	}
	return "", false
}

// PodIdentityRole returns the role of the Pod Identity association for namespace/serviceAccount,
// if there is one (what the EKS Pod Identity webhook checks before it injects credentials).
func (e *Emulator) PodIdentityRole(namespace, serviceAccount string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.state.eks.association(namespace, serviceAccount); a != nil {
		return a.RoleArn, true
	}
	return "", false
}

func (s *eksStore) association(namespace, serviceAccount string) *eksPodIdentity {
	for _, a := range s.associations {
		if a.Namespace == namespace && a.ServiceAccount == serviceAccount {
			return a
		}
	}
	return nil
}

// stripRolePathARN turns arn:PARTITION:iam::ACCT:role/path/name into
// arn:PARTITION:iam::ACCT:role/name.
func stripRolePathARN(arn string) string {
	prefix, rest, ok := strings.Cut(arn, ":role/")
	if !ok {
		return arn
	}
	return prefix + ":role/" + rest[strings.LastIndex(rest, "/")+1:]
}

// eksRoute is a parsed /clusters/{name}/{collection}[/{id}] path; segments are unescaped
// from the raw path, so an ID may contain "/" (a role ARN with a path, sent as %2F).
type eksRoute struct {
	cluster, collection, id string
	hasID                   bool
}

func parseEKSRoute(r *http.Request) (eksRoute, bool) {
	segs := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	if len(segs) < 3 || len(segs) > 4 || segs[0] != "clusters" {
		return eksRoute{}, false
	}
	var rt eksRoute
	var err error
	if rt.cluster, err = url.PathUnescape(segs[1]); err != nil {
		return eksRoute{}, false
	}
	rt.collection = segs[2]
	if len(segs) == 4 {
		if rt.id, err = url.PathUnescape(segs[3]); err != nil {
			return eksRoute{}, false
		}
		rt.hasID = true
	}
	return rt, true
}

// eksError is a rest-json error to write.
func eksInvalid(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "InvalidParameterException", format, args...)
}

// eksAccessOp is one access-entry or Pod Identity operation: its IAM action and handler.
type eksAccessOp struct {
	action string
	handle func(e *Emulator, r *http.Request, rt eksRoute, deny func(action, resource string) bool) (any, *apiError)
}

// eksAccessOps maps "<collection> <method>" (with "/{id}" when the path has an ID) to its
// operation.
var eksAccessOps = map[string]eksAccessOp{
	"access-entries POST": {"eks:CreateAccessEntry", func(e *Emulator, r *http.Request, rt eksRoute, _ func(string, string) bool) (any, *apiError) {
		return e.createAccessEntry(r, rt.cluster)
	}},
	"access-entries GET": {"eks:ListAccessEntries", func(e *Emulator, r *http.Request, _ eksRoute, _ func(string, string) bool) (any, *apiError) {
		return e.listAccessEntries(r)
	}},
	"access-entries/{id} GET": {"eks:DescribeAccessEntry", func(e *Emulator, _ *http.Request, rt eksRoute, _ func(string, string) bool) (any, *apiError) {
		return e.describeAccessEntry(rt.id)
	}},
	"access-entries/{id} DELETE": {"eks:DeleteAccessEntry", func(e *Emulator, _ *http.Request, rt eksRoute, _ func(string, string) bool) (any, *apiError) {
		return e.deleteAccessEntry(rt.id)
	}},
	"pod-identity-associations POST": {"eks:CreatePodIdentityAssociation", func(e *Emulator, r *http.Request, rt eksRoute, deny func(string, string) bool) (any, *apiError) {
		return e.createPodIdentityAssociation(r, rt.cluster, deny)
	}},
	"pod-identity-associations GET": {"eks:ListPodIdentityAssociations", func(e *Emulator, r *http.Request, _ eksRoute, _ func(string, string) bool) (any, *apiError) {
		return e.listPodIdentityAssociations(r)
	}},
	"pod-identity-associations/{id} GET": {"eks:DescribePodIdentityAssociation", func(e *Emulator, _ *http.Request, rt eksRoute, _ func(string, string) bool) (any, *apiError) {
		return e.describePodIdentityAssociation(rt.id, false)
	}},
	"pod-identity-associations/{id} DELETE": {"eks:DeletePodIdentityAssociation", func(e *Emulator, _ *http.Request, rt eksRoute, _ func(string, string) bool) (any, *apiError) {
		return e.describePodIdentityAssociation(rt.id, true)
	}},
}

// serveEKSAccess serves the access-entry and pod-identity-association operations; it reports
// false if r is none of them. Each is authorised as its eks: action on the cluster ARN (create
// and list) or on the entry's or association's ARN.
func (e *Emulator) serveEKSAccess(w http.ResponseWriter, r *http.Request, deny func(action, resource string) bool) bool {
	rt, ok := parseEKSRoute(r)
	if !ok {
		return false
	}
	key := rt.collection
	if rt.hasID {
		key += "/{id}"
	}
	op, ok := eksAccessOps[key+" "+r.Method]
	if !ok {
		return false
	}
	resource := e.eksARN("cluster/" + rt.cluster)
	switch {
	case rt.hasID && rt.collection == "access-entries":
		resource = e.accessEntryARN(rt.cluster, rt.id)
	case rt.hasID:
		resource = e.eksARN("podidentityassociation/" + rt.cluster + "/" + rt.id)
	}
	if deny(op.action, resource) {
		return true
	}
	if rt.cluster != e.opts.ClusterName {
		writeRestJSONError(w, http.StatusNotFound, "ResourceNotFoundException", "No cluster found for name: "+rt.cluster+".")
		return true
	}
	result, aerr := op.handle(e, r, rt, deny)
	switch {
	case aerr != nil:
		writeRestJSONError(w, aerr.Status, aerr.Code, aerr.Message)
	case result != nil: // nil: deny has written the answer
		writeAWSJSON(w, "application/json", result)
	}
	return true
}

func (e *Emulator) eksARN(resource string) string {
	return e.partition().ARN("eks", e.opts.Region, e.opts.AccountID, resource)
}

// accessEntryARN is arn:PARTITION:eks:REGION:ACCT:access-entry/CLUSTER/role/ACCT/NAME/ID as EKS
// forms it (without the random suffix, which the emulator leaves out of authorisation).
func (e *Emulator) accessEntryARN(cluster, principal string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if en := e.state.eks.entries[principal]; en != nil {
		return en.AccessEntryArn
	}
	return e.eksARN("access-entry/" + cluster + "/*")
}

// decodeEKSBody decodes a JSON request body into v.
func decodeEKSBody(r *http.Request, v any) *apiError {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return eksInvalid("reading the request body: %v", err)
	}
	if len(b) == 0 {
		b = []byte("{}")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errorf(http.StatusBadRequest, "SerializationException", "The request body is not valid JSON: %v", err)
	}
	return nil
}

func (e *Emulator) checkAccessMode() *apiError {
	if e.state.eks.authMode == AuthModeConfigMap {
		return errorf(http.StatusBadRequest, "InvalidRequestException",
			"The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.")
	}
	return nil
}

// createAccessEntry: principalArn must be an existing IAM role of the account (or a user ARN);
// EC2_LINUX, EC2_WINDOWS and FARGATE_LINUX entries take neither username nor kubernetesGroups
// and need a role (EKS assigns system:node:{{EC2PrivateDNSName}} and the node groups).
func (e *Emulator) createAccessEntry(r *http.Request, cluster string) (any, *apiError) {
	var in struct {
		PrincipalArn     string            `json:"principalArn"`
		KubernetesGroups []string          `json:"kubernetesGroups"`
		Tags             map[string]string `json:"tags"`
		Username         *string           `json:"username"`
		Type             string            `json:"type"`
	}
	if aerr := decodeEKSBody(r, &in); aerr != nil {
		return nil, aerr
	}
	if in.Type == "" {
		in.Type = AccessEntryStandard
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if aerr := e.checkAccessMode(); aerr != nil {
		return nil, aerr
	}
	principal := stripRolePathARN(in.PrincipalArn)
	role := e.state.iam.roleByARN(in.PrincipalArn)
	switch {
	case in.PrincipalArn == "":
		return nil, eksInvalid("principalArn is required")
	case !strings.HasPrefix(in.PrincipalArn, e.iamARN("")):
		return nil, eksInvalid("The specified principalArn is invalid: invalid principal %s", in.PrincipalArn)
	case strings.Contains(in.PrincipalArn, ":role/") && role == nil:
		return nil, eksInvalid("The specified principalArn is invalid: role %s does not exist", in.PrincipalArn)
	}
	username := ""
	switch in.Type {
	case AccessEntryStandard:
		username = in.PrincipalArn
		if role != nil {
			username = e.partition().ARN("sts", "", e.opts.AccountID, "assumed-role/"+role.name+"/{{SessionName}}")
		}
	case AccessEntryEC2Linux, AccessEntryEC2Windows, AccessEntryFargateLinux:
		if role == nil {
			return nil, eksInvalid("The principalArn of an access entry of type %s must be an IAM role", in.Type)
		}
		if in.Username != nil || len(in.KubernetesGroups) > 0 {
			return nil, eksInvalid("username and kubernetesGroups cannot be specified for an access entry of type %s", in.Type)
		}
		in.KubernetesGroups = nil
		username = "system:node:{{EC2PrivateDNSName}}"
		if in.Type == AccessEntryFargateLinux {
			username = "system:node:{{SessionName}}"
		}
	default:
		return nil, eksInvalid("The type %q is not supported: one of %s, %s, %s, %s", in.Type,
			AccessEntryStandard, AccessEntryEC2Linux, AccessEntryEC2Windows, AccessEntryFargateLinux)
	}
	if in.Username != nil {
		if *in.Username == "" || strings.HasPrefix(*in.Username, "system:") || strings.HasPrefix(*in.Username, "eks:") || strings.HasPrefix(*in.Username, "amazon:") || strings.HasPrefix(*in.Username, "aws:") {
			return nil, eksInvalid("The username %q is not valid: it must not be empty or start with system:, eks:, aws: or amazon:", *in.Username)
		}
		username = *in.Username
	}
	for _, g := range in.KubernetesGroups {
		if strings.HasPrefix(g, "system:") {
			return nil, eksInvalid("The kubernetesGroups value %q is not valid: group names must not start with system:", g)
		}
	}
	if e.state.eks.entries[principal] != nil {
		return nil, errorf(http.StatusConflict, "ResourceInUseException", "The specified access entry resource is already in use on this cluster.")
	}
	now := float64(e.opts.Clock.Now().Unix())
	id := newIAMID("", 8)
	acct := e.opts.AccountID
	arnTail := "access-entry/" + cluster + "/" + strings.Replace(strings.TrimPrefix(principal, e.iamARN("")), "/", "/"+acct+"/", 1) + "/" + strings.ToLower(id)
	en := &eksAccessEntry{
		ClusterName: cluster, PrincipalArn: principal, KubernetesGroups: append([]string{}, in.KubernetesGroups...),
		AccessEntryArn: e.eksARN(arnTail), CreatedAt: now, ModifiedAt: now, Tags: in.Tags, Username: username, Type: in.Type,
	}
	if en.Tags == nil {
		en.Tags = map[string]string{}
	}
	e.state.eks.entries[principal] = en
	return map[string]any{"accessEntry": en}, nil
}

func (e *Emulator) describeAccessEntry(principal string) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	en := e.state.eks.entries[stripRolePathARN(principal)]
	if en == nil {
		return nil, accessEntryNotFound()
	}
	return map[string]any{"accessEntry": en}, nil
}

func accessEntryNotFound() *apiError {
	return errorf(http.StatusNotFound, "ResourceNotFoundException",
		"The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.")
}

func (e *Emulator) deleteAccessEntry(principal string) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := stripRolePathARN(principal)
	if e.state.eks.entries[key] == nil {
		return nil, accessEntryNotFound()
	}
	delete(e.state.eks.entries, key)
	return map[string]any{}, nil
}

// eksPage returns the page of keys (sorted) that maxResults/nextToken select and the next token
// ("" on the last page). nextToken is the index of the first key of the page.
func eksPage(r *http.Request, keys []string) ([]string, string, *apiError) {
	slices.Sort(keys)
	limit := 100
	if v := r.URL.Query().Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, "", eksInvalid("maxResults must be an integer between 1 and 100")
		}
		limit = n
	}
	start := 0
	if v := r.URL.Query().Get("nextToken"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > len(keys) {
			return nil, "", eksInvalid("The nextToken %q is not valid", v)
		}
		start = n
	}
	end := min(start+limit, len(keys))
	next := ""
	if end < len(keys) {
		next = strconv.Itoa(end)
	}
	return keys[start:end], next, nil
}

func (e *Emulator) listAccessEntries(r *http.Request) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if aerr := e.checkAccessMode(); aerr != nil {
		return nil, aerr
	}
	keys := make([]string, 0, len(e.state.eks.entries))
	for k := range e.state.eks.entries {
		keys = append(keys, k)
	}
	got, next, aerr := eksPage(r, keys)
	if aerr != nil {
		return nil, aerr
	}
	out := map[string]any{"accessEntries": got}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// createPodIdentityAssociation: namespace, serviceAccount and an existing roleArn are
// required; the caller needs iam:PassRole on the role (EKS User Guide, "Pod Identity
// associations"); one association per namespace/service account. A nil result with a nil
// error means deny has written the response.
func (e *Emulator) createPodIdentityAssociation(r *http.Request, cluster string, deny func(action, resource string) bool) (any, *apiError) {
	var in struct {
		Namespace          string            `json:"namespace"`
		ServiceAccount     string            `json:"serviceAccount"`
		RoleArn            string            `json:"roleArn"`
		Tags               map[string]string `json:"tags"`
		DisableSessionTags *bool             `json:"disableSessionTags"`
		TargetRoleArn      string            `json:"targetRoleArn"`
		Policy             string            `json:"policy"`
	}
	if aerr := decodeEKSBody(r, &in); aerr != nil {
		return nil, aerr
	}
	switch {
	case in.Namespace == "" || in.ServiceAccount == "" || in.RoleArn == "":
		return nil, eksInvalid("namespace, serviceAccount and roleArn are required")
	case in.TargetRoleArn != "" || in.Policy != "":
		return nil, eksInvalid("targetRoleArn and policy are not supported by the emulator")
	}
	if deny("iam:PassRole", in.RoleArn) {
		return nil, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state.iam.roleByARN(in.RoleArn) == nil {
		return nil, eksInvalid("Role %s does not exist", in.RoleArn)
	}
	if a := e.state.eks.association(in.Namespace, in.ServiceAccount); a != nil {
		return nil, errorf(http.StatusConflict, "ResourceInUseException", "Association already exists: %s", a.AssociationArn)
	}
	id := "a-" + strings.ToLower(newIAMID("", 17))
	now := float64(e.opts.Clock.Now().Unix())
	a := &eksPodIdentity{
		ClusterName: cluster, Namespace: in.Namespace, ServiceAccount: in.ServiceAccount, RoleArn: in.RoleArn,
		AssociationArn: e.eksARN("podidentityassociation/" + cluster + "/" + id), AssociationID: id,
		Tags: in.Tags, CreatedAt: now, ModifiedAt: now, DisableSessionTags: in.DisableSessionTags != nil && *in.DisableSessionTags,
	}
	if a.Tags == nil {
		a.Tags = map[string]string{}
	}
	e.state.eks.associations[id] = a
	return map[string]any{"association": a}, nil
}

// describePodIdentityAssociation returns the association id (deleting it if del).
func (e *Emulator) describePodIdentityAssociation(id string, del bool) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.state.eks.associations[id]
	if a == nil {
		return nil, errorf(http.StatusNotFound, "ResourceNotFoundException", "Association %s not found", id)
	}
	if del {
		delete(e.state.eks.associations, id)
	}
	return map[string]any{"association": a}, nil
}

func (e *Emulator) listPodIdentityAssociations(r *http.Request) (any, *apiError) {
	q := r.URL.Query()
	e.mu.Lock()
	defer e.mu.Unlock()
	var keys []string
	for id, a := range e.state.eks.associations {
		if (q.Get("namespace") == "" || q.Get("namespace") == a.Namespace) && (q.Get("serviceAccount") == "" || q.Get("serviceAccount") == a.ServiceAccount) {
			keys = append(keys, id)
		}
	}
	got, next, aerr := eksPage(r, keys)
	if aerr != nil {
		return nil, aerr
	}
	summaries := make([]map[string]string, 0, len(got))
	for _, id := range got {
		a := e.state.eks.associations[id]
		summaries = append(summaries, map[string]string{"clusterName": a.ClusterName, "namespace": a.Namespace,
			"serviceAccount": a.ServiceAccount, "associationArn": a.AssociationArn, "associationId": a.AssociationID})
	}
	out := map[string]any{"associations": summaries}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// podIdentityCredentialLifetime is how long EKS Pod Identity credentials last (Amazon EKS
// User Guide, "Understand EKS Pod Identity": the agent's credentials are valid for 6 hours).
const podIdentityCredentialLifetime = 6 * time.Hour

// roleByARN returns the role whose ARN is arn (with or without its path). Caller holds e.mu.
func (s *iamStore) roleByARN(arn string) *iamRole {
	m := roleArnRE.FindStringSubmatch(arn)
	if m == nil || m[2] != s.e.opts.AccountID {
		return nil
	}
	role := s.roles[strings.ToLower(m[4])]
	if role == nil || (role.arn != arn && stripRolePathARN(role.arn) != arn) {
		return nil
	}
	return role
}
