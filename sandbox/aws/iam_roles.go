package aws

import (
	"net/url"
	"strings"
)

// xmlRole is the IAM Role shape (types.Role in the SDK). AssumeRolePolicyDocument is
// URL-encoded JSON, as IAM returns it.
type xmlRole struct {
	Path                     string   `xml:"Path"`
	RoleName                 string   `xml:"RoleName"`
	RoleId                   string   `xml:"RoleId"`
	Arn                      string   `xml:"Arn"`
	CreateDate               string   `xml:"CreateDate"`
	AssumeRolePolicyDocument string   `xml:"AssumeRolePolicyDocument"`
	Description              string   `xml:"Description,omitempty"`
	MaxSessionDuration       int32    `xml:"MaxSessionDuration"`
	Tags                     []iamTag `xml:"Tags>member,omitempty"`
}

func (r *iamRole) wire() xmlRole {
	return xmlRole{
		Path: r.path, RoleName: r.name, RoleId: r.id, Arn: r.arn, CreateDate: iamTime(r.created),
		AssumeRolePolicyDocument: urlEncodeDocument(r.trust), Description: r.description,
		MaxSessionDuration: r.maxSession, Tags: r.tags,
	}
}

type roleResult struct {
	Role xmlRole `xml:"Role"`
}

// role returns the role named by the RoleName member or NoSuchEntity.
func (s *iamStore) role(form url.Values) (*iamRole, *apiError) {
	name, aerr := iamName(form, "RoleName", 64)
	if aerr != nil {
		return nil, aerr
	}
	r := s.roles[strings.ToLower(name)]
	if r == nil {
		return nil, iamNoSuchEntity("The role with name %s cannot be found.", name)
	}
	return r, nil
}

func (s *iamStore) createRole(form url.Values) (any, *apiError) {
	name, path, aerr := iamNameAndPath(form, "RoleName", 64)
	if aerr != nil {
		return nil, aerr
	}
	trust, aerr := iamPolicyDocument(form, "AssumeRolePolicyDocument", policyKindTrust)
	if aerr != nil {
		return nil, aerr
	}
	desc, aerr := iamDescription(form)
	if aerr != nil {
		return nil, aerr
	}
	maxSession, aerr := iamInt(form, "MaxSessionDuration", 3600, 3600, 43200)
	if aerr != nil {
		return nil, aerr
	}
	tags, aerr := iamTags(form)
	if aerr != nil {
		return nil, aerr
	}
	key := strings.ToLower(name)
	if _, ok := s.roles[key]; ok {
		return nil, iamAlreadyExists("Role with name %s already exists.", name)
	}
	r := &iamRole{
		name: name, path: path, id: newIAMID("AROA", 17),
		arn:   s.e.iamARN("role" + path + name),
		trust: trust, description: desc, maxSession: int32(maxSession), created: s.now(),
		tags: tags, inline: map[string]string{},
	}
	s.roles[key] = r
	return roleResult{Role: r.wire()}, nil
}

func (s *iamStore) getRole(form url.Values) (any, *apiError) {
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	return roleResult{Role: r.wire()}, nil
}

type listRolesResult struct {
	Roles       []xmlRole `xml:"Roles>member"`
	IsTruncated bool      `xml:"IsTruncated"`
	Marker      string    `xml:"Marker,omitempty"`
}

func (s *iamStore) listRoles(form url.Values) (any, *apiError) {
	prefix := form.Get("PathPrefix")
	var all []*iamRole
	for _, k := range iamSortedKeys(s.roles) {
		if r := s.roles[k]; strings.HasPrefix(r.path, prefix) {
			all = append(all, r)
		}
	}
	start, end, trunc, next, aerr := iamPage(form, len(all))
	if aerr != nil {
		return nil, aerr
	}
	out := listRolesResult{Roles: []xmlRole{}, IsTruncated: trunc, Marker: next}
	for _, r := range all[start:end] {
		w := r.wire()
		w.Tags = nil // ListRoles does not return tags
		out.Roles = append(out.Roles, w)
	}
	return out, nil
}

func (s *iamStore) updateRole(form url.Values) (any, *apiError) {
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	maxSession, aerr := iamInt(form, "MaxSessionDuration", int64(r.maxSession), 3600, 43200)
	if aerr != nil {
		return nil, aerr
	}
	if _, ok := form["Description"]; ok {
		desc, aerr := iamDescription(form)
		if aerr != nil {
			return nil, aerr
		}
		r.description = desc
	}
	r.maxSession = int32(maxSession)
	return struct{}{}, nil
}

func (s *iamStore) updateRoleDescription(form url.Values) (any, *apiError) {
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	desc, aerr := iamDescription(form)
	if aerr != nil {
		return nil, aerr
	}
	r.description = desc
	return roleResult{Role: r.wire()}, nil
}

func (s *iamStore) updateAssumeRolePolicy(form url.Values) (any, *apiError) {
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	doc, aerr := iamPolicyDocument(form, "PolicyDocument", policyKindTrust)
	if aerr != nil {
		return nil, aerr
	}
	r.trust = doc
	return nil, nil
}

func (s *iamStore) deleteRole(form url.Values) (any, *apiError) {
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	key := strings.ToLower(r.name)
	if len(r.attached) > 0 {
		return nil, iamDeleteConflict("Cannot delete entity, must detach all policies first.")
	}
	if len(r.inline) > 0 {
		return nil, iamDeleteConflict("Cannot delete entity, must delete policies first.")
	}
	for _, p := range s.profiles {
		for _, rk := range p.roles {
			if rk == key {
				return nil, iamDeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
			}
		}
	}
	delete(s.roles, key)
	return nil, nil
}

type tagsResult struct {
	Tags        []iamTag `xml:"Tags>member"`
	IsTruncated bool     `xml:"IsTruncated"`
}

// --- managed policy attachments ---

func (s *iamStore) attachRolePolicy(form url.Values) (any, *apiError) {
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	p, aerr := s.policy(form)
	if aerr != nil {
		return nil, aerr
	}
	if s.propagating(r.created) {
		return nil, notYetRole(r.name)
	}
	if !p.awsManaged && s.propagating(p.created) {
		return nil, iamNoSuchEntity("Policy %s does not exist or is not attachable.", p.arn)
	}
	for _, a := range r.attached {
		if a == p.arn {
			return nil, nil // attaching twice is a no-op in IAM
		}
	}
	if len(r.attached) >= 20 {
		return nil, iamLimitExceeded("Cannot exceed quota for PoliciesPerRole: 20")
	}
	r.attached = append(r.attached, p.arn)
	return nil, nil
}

func (s *iamStore) detachRolePolicy(form url.Values) (any, *apiError) {
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	arn, aerr := iamRequired(form, "PolicyArn")
	if aerr != nil {
		return nil, aerr
	}
	for i, a := range r.attached {
		if a == arn {
			r.attached = append(r.attached[:i], r.attached[i+1:]...)
			return nil, nil
		}
	}
	return nil, iamNoSuchEntity("Policy %s was not found.", arn)
}

type attachedPolicy struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

type listAttachedResult struct {
	AttachedPolicies []attachedPolicy `xml:"AttachedPolicies>member"`
	IsTruncated      bool             `xml:"IsTruncated"`
	Marker           string           `xml:"Marker,omitempty"`
}

func (s *iamStore) listAttachedRolePolicies(form url.Values) (any, *apiError) {
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	prefix := form.Get("PathPrefix")
	var all []attachedPolicy
	for _, arn := range r.attached {
		if p := s.policies[arn]; p != nil && strings.HasPrefix(p.path, prefix) {
			all = append(all, attachedPolicy{PolicyName: p.name, PolicyArn: p.arn})
		}
	}
	page, trunc, next, aerr := iamPageOf(form, all)
	if aerr != nil {
		return nil, aerr
	}
	return listAttachedResult{AttachedPolicies: page, IsTruncated: trunc, Marker: next}, nil
}

// --- inline policies ---

func (s *iamStore) putRolePolicy(form url.Values) (any, *apiError) {
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	name, aerr := iamName(form, "PolicyName", 128)
	if aerr != nil {
		return nil, aerr
	}
	doc, aerr := iamPolicyDocument(form, "PolicyDocument", policyKindIdentity)
	if aerr != nil {
		return nil, aerr
	}
	r.inline[name] = doc
	return nil, nil
}

type getRolePolicyResult struct {
	RoleName       string `xml:"RoleName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

func (s *iamStore) getRolePolicy(form url.Values) (any, *apiError) {
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	name, aerr := iamName(form, "PolicyName", 128)
	if aerr != nil {
		return nil, aerr
	}
	doc, ok := r.inline[name]
	if !ok {
		return nil, iamNoSuchEntity("The role policy with name %s cannot be found.", name)
	}
	return getRolePolicyResult{RoleName: r.name, PolicyName: name, PolicyDocument: urlEncodeDocument(doc)}, nil
}

func (s *iamStore) deleteRolePolicy(form url.Values) (any, *apiError) {
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	name, aerr := iamName(form, "PolicyName", 128)
	if aerr != nil {
		return nil, aerr
	}
	if _, ok := r.inline[name]; !ok {
		return nil, iamNoSuchEntity("The role policy with name %s cannot be found.", name)
	}
	delete(r.inline, name)
	return nil, nil
}

type listRolePoliciesResult struct {
	PolicyNames []string `xml:"PolicyNames>member"`
	IsTruncated bool     `xml:"IsTruncated"`
	Marker      string   `xml:"Marker,omitempty"`
}

func (s *iamStore) listRolePolicies(form url.Values) (any, *apiError) {
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	names := iamSortedKeys(r.inline)
	page, trunc, next, aerr := iamPageOf(form, names)
	if aerr != nil {
		return nil, aerr
	}
	return listRolePoliciesResult{PolicyNames: page, IsTruncated: trunc, Marker: next}, nil
}
