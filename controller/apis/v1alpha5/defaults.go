package v1alpha5

import corev1 "k8s.io/api/core/v1"

// WithDefaults returns a copy of the provisioner with the defaults of Karpenter's v1alpha5 API
// applied in memory (the API server stores the spec as written, so `terraform plan` and
// `kubectl get` show exactly what the user wrote):
//   - no karpenter.sh/capacity-type requirement  -> karpenter.sh/capacity-type In [on-demand]
//   - no kubernetes.io/arch requirement           -> kubernetes.io/arch In [amd64]
//
// A requirement or label on a legacy key (beta.kubernetes.io/arch) counts as one on its GA key
// (LegacyLabels): kubernetes.io/arch is not defaulted to amd64 beside it.
//
// Source: Karpenter v0.6-v0.31 v1alpha5 Provisioner defaulting (SetDefaults), which made spot
// and arm64 opt-in.
func (p *Provisioner) WithDefaults() *Provisioner {
	out := p.DeepCopy()
	has := map[string]bool{} // legacy keys count as their GA keys (LegacyLabels)
	for _, r := range out.Spec.Requirements {
		has[NormalizeLabelKey(r.Key)] = true
	}
	for k := range out.Spec.Labels {
		has[NormalizeLabelKey(k)] = true
	}
	if !has[LabelCapacityType] {
		out.Spec.Requirements = append(out.Spec.Requirements, NodeSelectorRequirement{
			Key: LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{CapacityTypeOnDemand}})
	}
	if !has[LabelArch] {
		out.Spec.Requirements = append(out.Spec.Requirements, NodeSelectorRequirement{
			Key: LabelArch, Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64"}})
	}
	return out
}
