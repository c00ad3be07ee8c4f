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
	cases := map[string]struct{ in, want []NodeSelectorRequirement }{
		"empty gets on-demand and amd64": {nil, []NodeSelectorRequirement{onDemand, amd}},
		"spot kept, arch defaulted":      {[]NodeSelectorRequirement{spot}, []NodeSelectorRequirement{spot, amd}},
		"both kept":                      {[]NodeSelectorRequirement{spot, arm}, []NodeSelectorRequirement{spot, arm}},
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
