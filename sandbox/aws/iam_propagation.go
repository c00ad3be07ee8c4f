package aws

import (
	"net/http"
	"time"
)

// IAM is eventually consistent: "a change that you make in IAM ... takes time to become
// visible", and a role or instance profile just created may not yet be usable elsewhere (IAM
// User Guide, "Troubleshoot IAM: changes that I make are not always immediately visible").
// SetIAMPropagationDelay reproduces it so that clients' retries can be tested: for d after a
// role, managed policy or instance profile is created (or a role is added to a profile), calls
// that use it fail as AWS fails them then:
//
//	iam:AddRoleToInstanceProfile, iam:AttachRolePolicy   NoSuchEntity for the new role or policy
//	ec2:RunInstances, ec2:CreateFleet                      InvalidParameterValue "Invalid IAM Instance Profile"
//
// Reads (GetRole, GetInstanceProfile) see new entities at once, as the provider's own
// read-after-write does in practice. 0 (the default) turns it off.
func (e *Emulator) SetIAMPropagationDelay(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.iam.propagation = d
}

// propagating reports whether an entity created (or changed) at t is not yet usable. Caller
// holds e.mu.
func (s *iamStore) propagating(t time.Time) bool {
	return s.propagation > 0 && s.e.opts.Clock.Since(t) < s.propagation
}

// notYetRole is the error for a role that has not propagated.
func notYetRole(name string) *apiError {
	return errorf(http.StatusNotFound, "NoSuchEntity", "The role with name %s cannot be found.", name)
}

// profileUsable reports whether the instance profile (name or ARN) exists and has propagated,
// with its role. Caller holds e.mu.
func (s *iamStore) profileUsable(nameOrArn string) (string, bool) {
	p := s.profileByNameOrArn(nameOrArn)
	if p == nil || s.propagating(p.created) || s.propagating(p.roleAdded) {
		return "", false
	}
	return p.arn, true
}
