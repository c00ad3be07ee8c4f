package v1alpha5

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestWithDefaults(t *testing.T) {
	spot := NodeSelectorRequirement{Key: LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{CapacityTypeSpot}}
	arm := NodeSelectorRequirement{Key: LabelArch, Operator: corev1.NodeSelectorOpIn, Values: []string{"arm64"}}
	onDemand := NodeSelectorRequirement{Key: LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{CapacityTypeOnDemand}}
	amd := NodeSelectorRequirement{Key: LabelArch, Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64"}}
	betaArm := NodeSelectorRequirement{Key: "beta.kubernetes.io/arch", Operator: corev1.NodeSelectorOpIn, Values: []string{"arm64"}}
	cases := map[string]struct{ in, want []NodeSelectorRequirement }{
		"empty gets on-demand and amd64": {nil, []NodeSelectorRequirement{onDemand, amd}},
		"spot kept, arch defaulted":      {[]NodeSelectorRequirement{spot}, []NodeSelectorRequirement{spot, amd}},
		"both kept":                      {[]NodeSelectorRequirement{spot, arm}, []NodeSelectorRequirement{spot, arm}},
		// A legacy key counts as its GA key (LegacyLabels): amd64 beside it would leave no arch.
		"legacy arch kept": {[]NodeSelectorRequirement{spot, betaArm}, []NodeSelectorRequirement{spot, betaArm}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := &Provisioner{Spec: ProvisionerSpec{Requirements: tc.in}}
			got := p.WithDefaults()
			if !reflect.DeepEqual(got.Spec.Requirements, tc.want) {
				t.Fatalf("got %+v, want %+v", got.Spec.Requirements, tc.want)
			}
			if len(p.Spec.Requirements) != len(tc.in) {
				t.Fatalf("WithDefaults changed its receiver")
			}
		})
	}
}

// Labels count as requirements, on legacy keys too.
func TestWithDefaultsLabels(t *testing.T) {
	p := &Provisioner{Spec: ProvisionerSpec{Labels: map[string]string{LabelCapacityType: CapacityTypeSpot, LabelArchBeta: "arm64"}}}
	if got := p.WithDefaults().Spec.Requirements; len(got) != 0 {
		t.Fatalf("defaulted %+v beside the labels", got)
	}
}

func TestNormalizeLabelKey(t *testing.T) {
	for legacy, ga := range map[string]string{"beta.kubernetes.io/os": LabelOS, "beta.kubernetes.io/arch": LabelArch,
		"beta.kubernetes.io/instance-type": LabelInstanceType, "failure-domain.beta.kubernetes.io/zone": LabelZone,
		"failure-domain.beta.kubernetes.io/region": LabelRegion, LabelZone: LabelZone, "team": "team"} {
		if got := NormalizeLabelKey(legacy); got != ga {
			t.Errorf("NormalizeLabelKey(%s) = %s, want %s", legacy, got, ga)
		}
	}
}
