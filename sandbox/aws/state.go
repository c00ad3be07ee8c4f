package aws

// state is the emulated account. Every store is guarded by Emulator.mu.
type state struct {
	e      *Emulator
	ec2    ec2Store   // ec2.go: VPC, subnets, security groups, AMIs, launch templates, instances, tags
	iam    iamStore   // iam.go: roles, policies, instance profiles, OIDC providers
	faults faultStore // faults.go: injected errors (capacity, throttling)
	eks    eksStore   // eks_access.go: authentication mode, access entries, Pod Identity associations
}

func newState(e *Emulator) *state {
	s := &state{e: e}
	s.ec2.init(e)
	s.iam.init(e)
	s.faults.init(e)
	s.eks.init(e)
	return s
}
