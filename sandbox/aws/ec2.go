package aws

// EC2 emulation: the in-memory store, request dispatch, tags, filters and pagination shared by
// every EC2 action. The actions live in ec2_network.go (VPC, subnets, security groups, zones,
// images, tags), ec2_types.go (instance types, offerings, spot prices), ec2_templates.go
// (launch templates) and ec2_instances.go (RunInstances, CreateFleet, DescribeInstances,
// TerminateInstances and the instance lifecycle).
//
// Wire format: ec2query, as aws-sdk-go-v2/service/ec2 serializers.go and deserializers.go
// (v1.344.3) write and read it.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/clock"
)

// ec2TimeFormat is the ISO 8601 form EC2 uses for timestamps (launchTime, createTime...).
const ec2TimeFormat = "2006-01-02T15:04:05.000Z"

// amazonImageOwnerID is the account that owns the EKS-optimized AMIs in us-east-1 (source: the
// amazon-eks-ami README, "602401143452").
const amazonImageOwnerID = "602401143452"

type vpc struct {
	id, cidr string
}

type subnet struct {
	id, vpcID, zone, zoneID, cidr string
	// catalogZone is the catalogue's name of the subnet's zone (us-east-1a for cn-north-1a):
	// what offerings and spot prices are looked up by (see Emulator.zoneName).
	catalogZone string
	network     *net.IPNet
	nextHost    uint32 // next host offset to hand out
	released    []uint32
	allocated   int
}

type securityGroup struct {
	id, name, description, vpcID string
}

type image struct {
	id, name, architecture, description string
	family                              string // AL2, Bottlerocket or Ubuntu: the boot format
	created                             time.Time
}

type ec2Store struct {
	clock  clock.Clock
	secret []byte // HMAC key for pagination tokens

	vpcs            map[string]*vpc
	subnets         map[string]*subnet
	securityGroups  map[string]*securityGroup
	images          map[string]*image
	launchTemplates map[string]*launchTemplate // by ID
	templateByName  map[string]string          // name -> ID
	instances       map[string]*instance
	tags            map[string]map[string]string // resource ID -> key -> value
	idempotent      map[string]idempotentResult  // action + "/" + ClientToken -> first answer
}

// idempotentResult is the answer to a request with a ClientToken, replayed for retries of the
// same request (source: EC2 API reference, "Ensuring idempotency": tokens are honoured for at
// least 24 hours; a reused token with other parameters is IdempotentParameterMismatch).
type idempotentResult struct {
	digest []byte
	result any
	at     time.Time
}

// idempotentActions are the actions whose ClientToken the SDK fills in automatically.
var idempotentActions = map[string]bool{"RunInstances": true, "CreateFleet": true, "CreateLaunchTemplate": true}

const idempotencyWindow = 24 * time.Hour

func (s *ec2Store) init(e *Emulator) {
	s.clock = e.opts.Clock
	if s.clock == nil {
		s.clock = clock.RealClock{}
	}
	s.secret = make([]byte, 32)
	_, _ = rand.Read(s.secret)
	s.vpcs = map[string]*vpc{SeedVPCID: {id: SeedVPCID, cidr: SeedVPCCIDR}}
	s.subnets = map[string]*subnet{}
	s.securityGroups = map[string]*securityGroup{}
	s.images = map[string]*image{}
	s.launchTemplates = map[string]*launchTemplate{}
	s.templateByName = map[string]string{}
	s.instances = map[string]*instance{}
	s.tags = map[string]map[string]string{}
	s.idempotent = map[string]idempotentResult{}

	s.tags[SeedVPCID] = map[string]string{"Name": "sandbox"}
	for _, sn := range SeedSubnets {
		_, network, err := net.ParseCIDR(sn.CIDR)
		if err != nil {
			panic(fmt.Sprintf("seed subnet %s: bad CIDR %q: %v", sn.ID, sn.CIDR, err)) // seed constants, not input
		}
		// AWS reserves the first four addresses and the last one of every subnet.
		zone := e.zoneName(sn.Zone)
		s.subnets[sn.ID] = &subnet{id: sn.ID, vpcID: SeedVPCID, zone: zone, zoneID: e.zoneID(sn.ZoneID), catalogZone: sn.Zone,
			cidr: sn.CIDR, network: network, nextHost: 4}
		tags := map[string]string{"Name": "sandbox-private-" + zone}
		if e.opts.ClusterName != "" {
			tags["kubernetes.io/cluster/"+e.opts.ClusterName] = "shared"
		}
		s.tags[sn.ID] = tags
	}
	sgName := "sandbox-cluster-sg"
	if e.opts.ClusterName != "" {
		sgName = "eks-cluster-sg-" + e.opts.ClusterName
	}
	s.securityGroups[SeedClusterSecurityGroupID] = &securityGroup{id: SeedClusterSecurityGroupID, name: sgName,
		description: "EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads.", vpcID: SeedVPCID}
	s.tags[SeedClusterSecurityGroupID] = map[string]string{"Name": sgName}
	created := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	for _, a := range SeedAMIs {
		s.images[a.ID] = &image{id: a.ID, name: a.Name, architecture: a.Architecture, description: "EKS Kubernetes Worker AMI " + a.Name, created: created, family: a.Family}
	}
}

// newEC2ID returns prefix + "-" + 17 random lower-case hex digits, the form of current EC2 IDs.
func newEC2ID(prefix string) string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)[:17]
}

// validEC2ID reports whether id has the form prefix-<8 or 17 hex digits>.
func validEC2ID(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"-")
	if !ok || (len(rest) != 8 && len(rest) != 17) {
		return false
	}
	_, err := hex.DecodeString(rest + strings.Repeat("0", len(rest)%2))
	return err == nil
}

// ec2Handler answers one action; it locks e.mu itself.
type ec2Handler func(e *Emulator, form url.Values) (any, *apiError)

var ec2Handlers map[string]ec2Handler

func init() {
	ec2Handlers = map[string]ec2Handler{
		"DescribeVpcs":                   (*Emulator).describeVpcs,
		"DescribeSubnets":                (*Emulator).describeSubnets,
		"DescribeSecurityGroups":         (*Emulator).describeSecurityGroups,
		"DescribeAvailabilityZones":      (*Emulator).describeAvailabilityZones,
		"DescribeImages":                 (*Emulator).describeImages,
		"CreateTags":                     (*Emulator).createTags,
		"DeleteTags":                     (*Emulator).deleteTags,
		"DescribeTags":                   (*Emulator).describeTags,
		"DescribeInstanceTypes":          (*Emulator).describeInstanceTypes,
		"DescribeInstanceTypeOfferings":  (*Emulator).describeInstanceTypeOfferings,
		"DescribeSpotPriceHistory":       (*Emulator).describeSpotPriceHistory,
		"CreateLaunchTemplate":           (*Emulator).createLaunchTemplate,
		"DescribeLaunchTemplates":        (*Emulator).describeLaunchTemplates,
		"DeleteLaunchTemplate":           (*Emulator).deleteLaunchTemplate,
		"DescribeLaunchTemplateVersions": (*Emulator).describeLaunchTemplateVersions,
		"CreateFleet":                    (*Emulator).createFleet,
		"RunInstances":                   (*Emulator).runInstances,
		"DescribeInstances":              (*Emulator).describeInstances,
		"TerminateInstances":             (*Emulator).terminateInstances,
	}
}

// serveEC2 answers an EC2 query request: authorisation of temporary credentials first
// (ec2_authz.go), then the throttling and server-error faults, then DryRun, then the action.
func (e *Emulator) serveEC2(w http.ResponseWriter, r *http.Request) {
	form, err := parseForm(r)
	if err != nil {
		writeEC2Error(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return
	}
	action := form.Get("Action")
	h, ok := ec2Handlers[action]
	if !ok {
		writeEC2Error(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service.", action))
		return
	}
	if aerr := e.authorizeEC2(r, action, form); aerr != nil {
		writeEC2Error(w, aerr.Status, aerr.Code, aerr.Message)
		return
	}
	if e.throttled("ec2") {
		writeEC2Error(w, http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
		return
	}
	fail, status, code, msg, after := e.serverError(action)
	if fail && !after {
		writeEC2Error(w, status, code, msg)
		return
	}
	if fail {
		// The action takes effect below; its response is lost and the error goes instead.
		w = &lostResponse{ResponseWriter: w, status: status, code: code, msg: msg}
	}
	if dry, aerr := formBool(form, "DryRun"); aerr != nil {
		writeEC2Error(w, aerr.Status, aerr.Code, aerr.Message)
		return
	} else if dry {
		writeEC2Error(w, http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
		return
	}
	token := form.Get("ClientToken")
	key, digest := action+"/"+token, requestDigest(action, form)
	if idempotentActions[action] && token != "" {
		e.mu.Lock()
		prev, seen := e.state.ec2.idempotent[key]
		e.mu.Unlock()
		if seen {
			if !hmac.Equal(prev.digest, digest) {
				writeEC2Error(w, http.StatusBadRequest, "IdempotentParameterMismatch", "The client token "+token+" was already used with different parameters.")
				return
			}
			writeEC2XML(w, action, prev.result)
			return
		}
	}
	result, aerr := h(e, form)
	if aerr == nil && idempotentActions[action] && token != "" {
		e.mu.Lock()
		s := &e.state.ec2
		now := s.clock.Now()
		for k, v := range s.idempotent {
			if now.Sub(v.at) > idempotencyWindow {
				delete(s.idempotent, k)
			}
		}
		s.idempotent[key] = idempotentResult{digest: digest, result: result, at: now}
		e.mu.Unlock()
	}
	if aerr != nil {
		writeEC2Error(w, aerr.Status, aerr.Code, aerr.Message)
		return
	}
	writeEC2XML(w, action, result)
}

// lostResponse stands in for the response writer of a call whose response a ServerErrorFault
// with AfterAction replaces: whatever the action answers is dropped and the fault's error is
// written instead.
type lostResponse struct {
	http.ResponseWriter
	status    int
	code, msg string
	written   bool
}

func (l *lostResponse) WriteHeader(int) { l.send() }

func (l *lostResponse) Write(b []byte) (int, error) {
	l.send()
	return len(b), nil
}

func (l *lostResponse) send() {
	if !l.written {
		l.written = true
		writeEC2Error(l.ResponseWriter, l.status, l.code, l.msg)
	}
}

// --- tags -----------------------------------------------------------------------------------

type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

// tagSet renders a tag map as a sorted EC2 tagSet.
func tagSet(tags map[string]string) []xmlTag {
	out := make([]xmlTag, 0, len(tags))
	for k, v := range tags {
		out = append(out, xmlTag{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func copyTags(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// resourceType returns the DescribeTags resource type of an ID by its prefix, or "".
func resourceType(id string) string {
	prefix, _, _ := strings.Cut(id, "-")
	switch prefix {
	case "vpc":
		return "vpc"
	case "subnet":
		return "subnet"
	case "sg":
		return "security-group"
	case "i":
		return "instance"
	case "lt":
		return "launch-template"
	case "ami":
		return "image"
	}
	return ""
}

// resourceExists reports whether a taggable resource exists. Caller holds e.mu.
func (s *ec2Store) resourceExists(id string) bool {
	switch resourceType(id) {
	case "vpc":
		return s.vpcs[id] != nil
	case "subnet":
		return s.subnets[id] != nil
	case "security-group":
		return s.securityGroups[id] != nil
	case "instance":
		return s.instances[id] != nil
	case "launch-template":
		return s.launchTemplates[id] != nil
	case "image":
		return s.images[id] != nil
	}
	return false
}

// notFoundError is the EC2 error for a missing resource of id's type.
func notFoundError(id string) *apiError {
	switch resourceType(id) {
	case "vpc":
		return errorf(http.StatusBadRequest, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", id)
	case "subnet":
		return errorf(http.StatusBadRequest, "InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", id)
	case "security-group":
		return errorf(http.StatusBadRequest, "InvalidGroup.NotFound", "The security group '%s' does not exist", id)
	case "instance":
		return errorf(http.StatusBadRequest, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
	case "launch-template":
		return errorf(http.StatusBadRequest, "InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", id)
	case "image":
		return errorf(http.StatusBadRequest, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
	}
	return errorf(http.StatusBadRequest, "InvalidID", "The ID '%s' is not valid", id)
}

// tagSpec is one parsed TagSpecification: resource type and tags.
type tagSpec struct {
	ResourceType string
	Tags         map[string]string
}

// parseTags reads Tag.N.Key/Value under prefix (e.g. "Tag" or "TagSpecification.1.Tag"),
// validating keys the way EC2 does. field names the request path for errors.
func parseTags(form url.Values, prefix string) (map[string]string, *apiError) {
	tags := map[string]string{}
	for i, t := range formObjects(form, prefix) {
		k := t.Get("Key")
		path := fmt.Sprintf("%s.%d", prefix, i+1)
		if err := validateTag(path, k, t.Get("Value")); err != nil {
			return nil, err
		}
		tags[k] = t.Get("Value")
	}
	return tags, nil
}

// validateTag applies EC2's tag rules: key 1-128 characters, not starting with "aws:"; value at
// most 256 characters (source: EC2 User Guide, "Tag restrictions").
func validateTag(path, key, value string) *apiError {
	switch {
	case key == "":
		return errorf(http.StatusBadRequest, "InvalidParameterValue", "Tag key must not be empty (%s.Key)", path)
	case len(key) > 128:
		return errorf(http.StatusBadRequest, "InvalidParameterValue", "Tag key exceeds the maximum length of 128 characters (%s.Key)", path)
	case strings.HasPrefix(strings.ToLower(key), "aws:"):
		return errorf(http.StatusBadRequest, "InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use (%s.Key)", path)
	case len(value) > 256:
		return errorf(http.StatusBadRequest, "InvalidParameterValue", "Tag value exceeds the maximum length of 256 characters (%s.Value)", path)
	}
	return nil
}

// parseTagSpecs reads TagSpecification.N (ResourceType, Tag.M) and checks every resource type
// is in allowed.
func parseTagSpecs(form url.Values, prefix string, allowed ...string) ([]tagSpec, *apiError) {
	var out []tagSpec
	for i, ts := range formObjects(form, prefix) {
		path := fmt.Sprintf("%s.%d", prefix, i+1)
		rt := ts.Get("ResourceType")
		ok := false
		for _, a := range allowed {
			ok = ok || a == rt
		}
		if !ok {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation (%s.ResourceType); allowed: %s", rt, path, strings.Join(allowed, ", "))
		}
		tags, err := parseTags(ts, "Tag")
		if err != nil {
			err.Message = path + ": " + err.Message
			return nil, err
		}
		out = append(out, tagSpec{ResourceType: rt, Tags: tags})
	}
	return out, nil
}

// tagsFor merges the tags of every spec for resourceType.
func tagsFor(specs []tagSpec, resourceType string) map[string]string {
	out := map[string]string{}
	for _, s := range specs {
		if s.ResourceType == resourceType {
			for k, v := range s.Tags {
				out[k] = v
			}
		}
	}
	return out
}

// maxTagsPerResource is EC2's limit (source: EC2 User Guide, "Tag restrictions": 50).
const maxTagsPerResource = 50

// --- filters --------------------------------------------------------------------------------

// ec2Filter is one Filter.N: Name and its Values (ORed); filters are ANDed.
type ec2Filter struct {
	Name   string
	Values []string
}

func parseFilters(form url.Values) ([]ec2Filter, *apiError) {
	var out []ec2Filter
	for i, f := range formObjects(form, "Filter") {
		name := f.Get("Name")
		if name == "" {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Filter.%d.Name: the filter name must not be empty", i+1)
		}
		out = append(out, ec2Filter{Name: name, Values: formList(f, "Value")})
	}
	return out, nil
}

// wildcardMatch matches s against an EC2 filter value, where '*' matches any run of characters
// and '?' exactly one (source: EC2 API reference, "Filter": "You can use wildcards"): the same
// rule as IAM's globMatch.
func wildcardMatch(pattern, s string) bool {
	return globMatch(pattern, s)
}

func anyMatch(patterns, values []string) bool {
	for _, p := range patterns {
		for _, v := range values {
			if wildcardMatch(p, v) {
				return true
			}
		}
	}
	return false
}

// attrFunc returns the values of a filterable attribute and whether the name is known.
type attrFunc func(name string) ([]string, bool)

// matchFilters reports whether a resource with tags and attributes passes every filter; tag:K,
// tag-key and tag-value are handled here. Unknown names give InvalidParameterValue.
func matchFilters(filters []ec2Filter, tags map[string]string, attr attrFunc) (bool, *apiError) {
	for _, f := range filters {
		var vals []string
		switch {
		case strings.HasPrefix(f.Name, "tag:"):
			if v, ok := tags[strings.TrimPrefix(f.Name, "tag:")]; ok {
				vals = []string{v}
			}
		case f.Name == "tag-key":
			for k := range tags {
				vals = append(vals, k)
			}
		case f.Name == "tag-value":
			for _, v := range tags {
				vals = append(vals, v)
			}
		default:
			v, ok := attr(f.Name)
			if !ok {
				return false, errorf(http.StatusBadRequest, "InvalidParameterValue", "The filter '%s' is invalid", f.Name)
			}
			vals = v
		}
		if !anyMatch(f.Values, vals) {
			return false, nil
		}
	}
	return true, nil
}

// --- pagination -----------------------------------------------------------------------------

// pageParams reads MaxResults (bounded to [min,max]; absent gives def, 0 meaning "all") and
// NextToken, which must be a token this emulator issued for the same action and the same other
// parameters. It returns the start offset and page size.
func (s *ec2Store) pageParams(form url.Values, action string, min, max, def int) (offset, size int, err *apiError) {
	n, err := formInt(form, "MaxResults", int64(def))
	if err != nil {
		return 0, 0, err
	}
	if form.Get("MaxResults") != "" && (n < int64(min) || n > int64(max)) {
		return 0, 0, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%d) for parameter MaxResults is invalid. Expecting a value between %d and %d.", n, min, max)
	}
	tok := form.Get("NextToken")
	if tok == "" {
		return 0, int(n), nil
	}
	off, ok := s.decodeToken(tok, action, form)
	if !ok {
		return 0, 0, errorf(http.StatusBadRequest, "InvalidPaginationToken", "The pagination token '%s' is not valid for this request.", tok)
	}
	return off, int(n), nil
}

// requestDigest hashes the request's parameters other than pagination ones, so a token cannot
// be replayed against a different query.
func requestDigest(action string, form url.Values) []byte {
	keys := make([]string, 0, len(form))
	for k := range form {
		if k == "NextToken" || k == "MaxResults" || k == "Version" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	h.Write([]byte(action))
	for _, k := range keys {
		fmt.Fprintf(h, "\x00%s=%s", k, strings.Join(form[k], "\x01"))
	}
	return h.Sum(nil)[:8]
}

// encodeToken returns an opaque, HMAC-signed token for resuming action at offset.
func (s *ec2Store) encodeToken(action string, form url.Values, offset int) string {
	payload := make([]byte, 0, 32)
	payload = binary.BigEndian.AppendUint32(payload, uint32(offset))
	payload = append(payload, requestDigest(action, form)...)
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(payload)
	payload = append(payload, mac.Sum(nil)[:12]...)
	return base64.RawURLEncoding.EncodeToString(payload)
}

func (s *ec2Store) decodeToken(tok, action string, form url.Values) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 4+8+12 {
		return 0, false
	}
	body, sum := raw[:12], raw[12:]
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil)[:12], sum) {
		return 0, false
	}
	if !hmac.Equal(body[4:], requestDigest(action, form)) {
		return 0, false
	}
	return int(binary.BigEndian.Uint32(body[:4])), true
}

// page returns the [offset, offset+size) window of n items and the next token ("" at the end);
// size 0 means everything from offset.
func (s *ec2Store) page(action string, form url.Values, n, offset, size int) (lo, hi int, next string) {
	if offset > n {
		offset = n
	}
	hi = n
	if size > 0 && offset+size < n {
		hi = offset + size
		next = s.encodeToken(action, form, hi)
	}
	return offset, hi, next
}

// itoa32 formats an int32 for an attribute filter.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
