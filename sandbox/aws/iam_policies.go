package aws

import (
	"net/url"
	"strconv"
	"strings"
)

// xmlPolicy is the IAM Policy shape (types.Policy in the SDK).
type xmlPolicy struct {
	PolicyName                    string   `xml:"PolicyName"`
	PolicyId                      string   `xml:"PolicyId"`
	Arn                           string   `xml:"Arn"`
	Path                          string   `xml:"Path"`
	DefaultVersionId              string   `xml:"DefaultVersionId"`
	AttachmentCount               int      `xml:"AttachmentCount"`
	PermissionsBoundaryUsageCount int      `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool     `xml:"IsAttachable"`
	Description                   string   `xml:"Description,omitempty"`
	CreateDate                    string   `xml:"CreateDate"`
	UpdateDate                    string   `xml:"UpdateDate"`
	Tags                          []iamTag `xml:"Tags>member,omitempty"`
}

// xmlPolicyVersion is the PolicyVersion shape; Document is URL-encoded JSON, omitted by
// ListPolicyVersions.
type xmlPolicyVersion struct {
	Document         string `xml:"Document,omitempty"`
	VersionId        string `xml:"VersionId"`
	IsDefaultVersion bool   `xml:"IsDefaultVersion"`
	CreateDate       string `xml:"CreateDate"`
}

// attachments counts the roles that have p attached.
func (s *iamStore) attachments(p *iamPolicy) []*iamRole {
	var out []*iamRole
	for _, k := range iamSortedKeys(s.roles) {
		r := s.roles[k]
		for _, a := range r.attached {
			if a == p.arn {
				out = append(out, r)
			}
		}
	}
	return out
}

func (s *iamStore) policyWire(p *iamPolicy) xmlPolicy {
	return xmlPolicy{
		PolicyName: p.name, PolicyId: p.id, Arn: p.arn, Path: p.path, DefaultVersionId: p.defaultVersion,
		AttachmentCount: len(s.attachments(p)), IsAttachable: true, Description: p.description,
		CreateDate: iamTime(p.created), UpdateDate: iamTime(p.updated), Tags: p.tags,
	}
}

func (p *iamPolicy) version(id string) *iamPolicyVersion {
	for _, v := range p.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

// policy returns the policy named by the PolicyArn member or NoSuchEntity.
func (s *iamStore) policy(form url.Values) (*iamPolicy, *apiError) {
	arn, aerr := iamRequired(form, "PolicyArn")
	if aerr != nil {
		return nil, aerr
	}
	if !strings.HasPrefix(arn, "arn:") || len(arn) < 20 || len(arn) > 2048 {
		return nil, iamValidation("ARN %s is not valid.", arn)
	}
	p := s.policies[arn]
	if p == nil {
		return nil, iamNoSuchEntity("Policy %s does not exist or is not attachable.", arn)
	}
	return p, nil
}

type policyResult struct {
	Policy xmlPolicy `xml:"Policy"`
}

func (s *iamStore) createPolicy(form url.Values) (any, *apiError) {
	name, path, aerr := iamNameAndPath(form, "PolicyName", 128)
	if aerr != nil {
		return nil, aerr
	}
	doc, aerr := iamPolicyDocument(form, "PolicyDocument", policyKindIdentity)
	if aerr != nil {
		return nil, aerr
	}
	desc, aerr := iamDescription(form)
	if aerr != nil {
		return nil, aerr
	}
	tags, aerr := iamTags(form)
	if aerr != nil {
		return nil, aerr
	}
	arn := s.e.iamARN("policy" + path + name)
	for _, p := range s.policies {
		if !p.awsManaged && strings.EqualFold(p.name, name) {
			return nil, iamAlreadyExists("A policy called %s already exists. Duplicate names are not allowed.", name)
		}
	}
	now := s.now()
	p := &iamPolicy{
		name: name, path: path, id: newIAMID("ANPA", 17), arn: arn, description: desc,
		created: now, updated: now, defaultVersion: "v1", nextVersion: 2, tags: tags,
		versions: []*iamPolicyVersion{{id: "v1", doc: doc, created: now}},
	}
	s.policies[arn] = p
	w := s.policyWire(p)
	return policyResult{Policy: w}, nil
}

func (s *iamStore) getPolicy(form url.Values) (any, *apiError) {
	p, aerr := s.policy(form)
	if aerr != nil {
		return nil, aerr
	}
	return policyResult{Policy: s.policyWire(p)}, nil
}

type listPoliciesResult struct {
	Policies    []xmlPolicy `xml:"Policies>member"`
	IsTruncated bool        `xml:"IsTruncated"`
	Marker      string      `xml:"Marker,omitempty"`
}

// listPolicies supports Scope (All | AWS | Local), OnlyAttached and PathPrefix.
func (s *iamStore) listPolicies(form url.Values) (any, *apiError) {
	scope := form.Get("Scope")
	switch scope {
	case "", "All", "AWS", "Local":
	default:
		return nil, iamValidation("1 validation error detected: Value '%s' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]", scope)
	}
	onlyAttached := form.Get("OnlyAttached") == "true"
	prefix := form.Get("PathPrefix")
	var all []xmlPolicy
	for _, k := range iamSortedKeys(s.policies) {
		p := s.policies[k]
		if (scope == "AWS" && !p.awsManaged) || (scope == "Local" && p.awsManaged) || !strings.HasPrefix(p.path, prefix) {
			continue
		}
		w := s.policyWire(p)
		if onlyAttached && w.AttachmentCount == 0 {
			continue
		}
		w.Tags = nil
		all = append(all, w)
	}
	page, trunc, next, aerr := iamPageOf(form, all)
	if aerr != nil {
		return nil, aerr
	}
	return listPoliciesResult{Policies: page, IsTruncated: trunc, Marker: next}, nil
}

func (s *iamStore) deletePolicy(form url.Values) (any, *apiError) {
	p, aerr := s.policy(form)
	if aerr != nil {
		return nil, aerr
	}
	if p.awsManaged {
		return nil, errorf(403, "AccessDenied", "AWS managed policy %s cannot be deleted.", p.arn)
	}
	if len(s.attachments(p)) > 0 {
		return nil, iamDeleteConflict("Cannot delete a policy attached to entities.")
	}
	if len(p.versions) > 1 {
		return nil, iamDeleteConflict("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")
	}
	delete(s.policies, p.arn)
	return nil, nil
}

type policyVersionResult struct {
	PolicyVersion xmlPolicyVersion `xml:"PolicyVersion"`
}

func (s *iamStore) getPolicyVersion(form url.Values) (any, *apiError) {
	p, aerr := s.policy(form)
	if aerr != nil {
		return nil, aerr
	}
	id, aerr := iamRequired(form, "VersionId")
	if aerr != nil {
		return nil, aerr
	}
	v := p.version(id)
	if v == nil {
		return nil, iamNoSuchEntity("Policy %s version %s does not exist or is not attachable.", p.arn, id)
	}
	return policyVersionResult{PolicyVersion: xmlPolicyVersion{
		Document: urlEncodeDocument(v.doc), VersionId: v.id, IsDefaultVersion: v.id == p.defaultVersion, CreateDate: iamTime(v.created),
	}}, nil
}

type listPolicyVersionsResult struct {
	Versions    []xmlPolicyVersion `xml:"Versions>member"`
	IsTruncated bool               `xml:"IsTruncated"`
	Marker      string             `xml:"Marker,omitempty"`
}

func (s *iamStore) listPolicyVersions(form url.Values) (any, *apiError) {
	p, aerr := s.policy(form)
	if aerr != nil {
		return nil, aerr
	}
	// Newest first, as IAM lists them.
	var all []xmlPolicyVersion
	for i := len(p.versions) - 1; i >= 0; i-- {
		v := p.versions[i]
		all = append(all, xmlPolicyVersion{VersionId: v.id, IsDefaultVersion: v.id == p.defaultVersion, CreateDate: iamTime(v.created)})
	}
	page, trunc, next, aerr := iamPageOf(form, all)
	if aerr != nil {
		return nil, aerr
	}
	return listPolicyVersionsResult{Versions: page, IsTruncated: trunc, Marker: next}, nil
}

// createPolicyVersion adds a version (at most 5 per policy, IAM's quota); SetAsDefault makes it
// the default.
func (s *iamStore) createPolicyVersion(form url.Values) (any, *apiError) {
	p, aerr := s.policy(form)
	if aerr != nil {
		return nil, aerr
	}
	if p.awsManaged {
		return nil, errorf(403, "AccessDenied", "AWS managed policy %s cannot be modified.", p.arn)
	}
	doc, aerr := iamPolicyDocument(form, "PolicyDocument", policyKindIdentity)
	if aerr != nil {
		return nil, aerr
	}
	if len(p.versions) >= 5 {
		return nil, iamLimitExceeded("A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.")
	}
	now := s.now()
	v := &iamPolicyVersion{id: "v" + strconv.Itoa(p.nextVersion), doc: doc, created: now}
	p.nextVersion++
	p.versions = append(p.versions, v)
	if form.Get("SetAsDefault") == "true" {
		p.defaultVersion = v.id
		p.updated = now
	}
	return policyVersionResult{PolicyVersion: xmlPolicyVersion{VersionId: v.id, IsDefaultVersion: v.id == p.defaultVersion, CreateDate: iamTime(v.created)}}, nil
}

func (s *iamStore) deletePolicyVersion(form url.Values) (any, *apiError) {
	p, aerr := s.policy(form)
	if aerr != nil {
		return nil, aerr
	}
	id, aerr := iamRequired(form, "VersionId")
	if aerr != nil {
		return nil, aerr
	}
	if p.version(id) == nil {
		return nil, iamNoSuchEntity("Policy %s version %s does not exist.", p.arn, id)
	}
	if id == p.defaultVersion {
		return nil, iamDeleteConflict("Cannot delete the default version of a policy.")
	}
	for i, v := range p.versions {
		if v.id == id {
			p.versions = append(p.versions[:i], p.versions[i+1:]...)
			break
		}
	}
	return nil, nil
}

func (s *iamStore) setDefaultPolicyVersion(form url.Values) (any, *apiError) {
	p, aerr := s.policy(form)
	if aerr != nil {
		return nil, aerr
	}
	id, aerr := iamRequired(form, "VersionId")
	if aerr != nil {
		return nil, aerr
	}
	if p.version(id) == nil {
		return nil, iamNoSuchEntity("Policy %s version %s does not exist.", p.arn, id)
	}
	p.defaultVersion = id
	p.updated = s.now()
	return nil, nil
}

type policyRole struct {
	RoleName string `xml:"RoleName"`
	RoleId   string `xml:"RoleId"`
}

type listEntitiesResult struct {
	PolicyRoles []policyRole `xml:"PolicyRoles>member"`
	IsTruncated bool         `xml:"IsTruncated"`
	Marker      string       `xml:"Marker,omitempty"`
}

// listEntitiesForPolicy lists the roles the policy is attached to (the emulator has no users
// or groups).
func (s *iamStore) listEntitiesForPolicy(form url.Values) (any, *apiError) {
	p, aerr := s.policy(form)
	if aerr != nil {
		return nil, aerr
	}
	var all []policyRole
	for _, r := range s.attachments(p) {
		all = append(all, policyRole{RoleName: r.name, RoleId: r.id})
	}
	page, trunc, next, aerr := iamPageOf(form, all)
	if aerr != nil {
		return nil, aerr
	}
	return listEntitiesResult{PolicyRoles: page, IsTruncated: trunc, Marker: next}, nil
}
