package aws

import (
	"net/url"
	"strings"
)

// xmlInstanceProfile is the InstanceProfile shape (types.InstanceProfile in the SDK).
type xmlInstanceProfile struct {
	Path                string    `xml:"Path"`
	InstanceProfileName string    `xml:"InstanceProfileName"`
	InstanceProfileId   string    `xml:"InstanceProfileId"`
	Arn                 string    `xml:"Arn"`
	CreateDate          string    `xml:"CreateDate"`
	Roles               []xmlRole `xml:"Roles>member"`
	Tags                []iamTag  `xml:"Tags>member,omitempty"`
}

func (s *iamStore) profileWire(p *iamInstanceProfile) xmlInstanceProfile {
	out := xmlInstanceProfile{
		Path: p.path, InstanceProfileName: p.name, InstanceProfileId: p.id, Arn: p.arn,
		CreateDate: iamTime(p.created), Roles: []xmlRole{}, Tags: p.tags,
	}
	for _, k := range p.roles {
		if r := s.roles[k]; r != nil {
			out.Roles = append(out.Roles, r.wire())
		}
	}
	return out
}

// profile returns the instance profile named by the InstanceProfileName member or NoSuchEntity.
func (s *iamStore) profile(form url.Values) (*iamInstanceProfile, *apiError) {
	name, aerr := iamName(form, "InstanceProfileName", 128)
	if aerr != nil {
		return nil, aerr
	}
	p := s.profiles[strings.ToLower(name)]
	if p == nil {
		return nil, iamNoSuchEntity("Instance Profile %s cannot be found.", name)
	}
	return p, nil
}

type instanceProfileResult struct {
	InstanceProfile xmlInstanceProfile `xml:"InstanceProfile"`
}

func (s *iamStore) createInstanceProfile(form url.Values) (any, *apiError) {
	name, path, aerr := iamNameAndPath(form, "InstanceProfileName", 128)
	if aerr != nil {
		return nil, aerr
	}
	tags, aerr := iamTags(form)
	if aerr != nil {
		return nil, aerr
	}
	key := strings.ToLower(name)
	if _, ok := s.profiles[key]; ok {
		return nil, iamAlreadyExists("Instance Profile %s already exists.", name)
	}
	p := &iamInstanceProfile{
		name: name, path: path, id: newIAMID("AIPA", 17),
		arn:     s.e.iamARN("instance-profile" + path + name),
		created: s.now(), tags: tags,
	}
	s.profiles[key] = p
	return instanceProfileResult{InstanceProfile: s.profileWire(p)}, nil
}

func (s *iamStore) getInstanceProfile(form url.Values) (any, *apiError) {
	p, aerr := s.profile(form)
	if aerr != nil {
		return nil, aerr
	}
	return instanceProfileResult{InstanceProfile: s.profileWire(p)}, nil
}

type listInstanceProfilesResult struct {
	InstanceProfiles []xmlInstanceProfile `xml:"InstanceProfiles>member"`
	IsTruncated      bool                 `xml:"IsTruncated"`
	Marker           string               `xml:"Marker,omitempty"`
}

func (s *iamStore) listInstanceProfiles(form url.Values) (any, *apiError) {
	prefix := form.Get("PathPrefix")
	var all []xmlInstanceProfile
	for _, k := range iamSortedKeys(s.profiles) {
		if p := s.profiles[k]; strings.HasPrefix(p.path, prefix) {
			all = append(all, s.profileWire(p))
		}
	}
	page, trunc, next, aerr := iamPageOf(form, all)
	if aerr != nil {
		return nil, aerr
	}
	return listInstanceProfilesResult{InstanceProfiles: page, IsTruncated: trunc, Marker: next}, nil
}

func (s *iamStore) deleteInstanceProfile(form url.Values) (any, *apiError) {
	p, aerr := s.profile(form)
	if aerr != nil {
		return nil, aerr
	}
	if len(p.roles) > 0 {
		return nil, iamDeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
	}
	delete(s.profiles, strings.ToLower(p.name))
	return nil, nil
}

// addRoleToInstanceProfile puts the role into the profile; a profile holds at most one role
// (IAM quota InstanceSessionsPerInstanceProfile), so a second role is LimitExceeded.
func (s *iamStore) addRoleToInstanceProfile(form url.Values) (any, *apiError) {
	p, aerr := s.profile(form)
	if aerr != nil {
		return nil, aerr
	}
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	if s.propagating(r.created) {
		return nil, notYetRole(r.name)
	}
	if len(p.roles) > 0 {
		return nil, iamLimitExceeded("Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
	}
	p.roles = append(p.roles, strings.ToLower(r.name))
	p.roleAdded = s.now()
	return nil, nil
}

func (s *iamStore) removeRoleFromInstanceProfile(form url.Values) (any, *apiError) {
	p, aerr := s.profile(form)
	if aerr != nil {
		return nil, aerr
	}
	name, aerr := iamName(form, "RoleName", 64)
	if aerr != nil {
		return nil, aerr
	}
	key := strings.ToLower(name)
	for i, k := range p.roles {
		if k == key {
			p.roles = append(p.roles[:i], p.roles[i+1:]...)
			return nil, nil
		}
	}
	return nil, iamNoSuchEntity("The role with name %s cannot be found in instance profile %s.", name, p.name)
}

func (s *iamStore) listInstanceProfilesForRole(form url.Values) (any, *apiError) {
	r, aerr := s.role(form)
	if aerr != nil {
		return nil, aerr
	}
	key := strings.ToLower(r.name)
	var all []xmlInstanceProfile
	for _, k := range iamSortedKeys(s.profiles) {
		p := s.profiles[k]
		for _, rk := range p.roles {
			if rk == key {
				all = append(all, s.profileWire(p))
			}
		}
	}
	page, trunc, next, aerr := iamPageOf(form, all)
	if aerr != nil {
		return nil, aerr
	}
	return listInstanceProfilesResult{InstanceProfiles: page, IsTruncated: trunc, Marker: next}, nil
}
