package aws

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/node"
)

func TestKubeReservedCPU(t *testing.T) {
	// EKS AL2 bootstrap tiers: 6% of core 1, 1% of core 2, 0.5% of cores 3-4, 0.25% above.
	for cores, want := range map[int64]int64{1: 60, 2: 70, 4: 80, 8: 90, 48: 190, 96: 310} {
		if got := KubeReservedCPUMillicores(cores); got != want {
			t.Errorf("KubeReservedCPUMillicores(%d) = %d, want %d", cores, got, want)
		}
	}
}

func TestSplitFamily(t *testing.T) {
	for family, want := range map[string][2]string{
		"m5": {"m", "5"}, "c6gn": {"c", "6"}, "inf1": {"inf", "1"}, "p4d": {"p", "4"}, "x2iedn": {"x", "2"}, "u": {"u", ""},
	} {
		c, g := splitFamily(family)
		if c != want[0] || g != want[1] {
			t.Errorf("splitFamily(%s) = %s, %s; want %v", family, c, g, want)
		}
	}
}

func TestSelectorFilters(t *testing.T) {
	filters, ids, err := selectorFilters("spec.provider.subnetSelector", map[string]string{
		"karpenter.sh/discovery": "demo", "kubernetes.io/role/internal-elb": "*", "aws-ids": "subnet-1, subnet-2",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != "subnet-1" || ids[1] != "subnet-2" {
		t.Errorf("ids = %v", ids)
	}
	got := map[string]string{}
	for _, f := range filters {
		got[*f.Name] = f.Values[0]
	}
	if got["tag:karpenter.sh/discovery"] != "demo" || got["tag-key"] != "kubernetes.io/role/internal-elb" || len(got) != 2 {
		t.Errorf("filters = %v", got)
	}
	if _, _, err := selectorFilters("spec.provider.securityGroupSelector", map[string]string{"a": ""}); err == nil ||
		!strings.Contains(err.Error(), "spec.provider.securityGroupSelector[a]") {
		t.Errorf("empty value error = %v", err)
	}
}

func TestBootstrapUserData(t *testing.T) {
	maxPods := int32(58)
	ud, err := BootstrapUserData(&ClusterInfo{Name: "demo", Endpoint: "https://example.com", CABase64: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="},
		map[string]string{"karpenter.sh/capacity-type": "spot", "team": "blue"},
		[]corev1.Taint{{Key: "gpu", Value: "true", Effect: corev1.TaintEffectNoExecute}, {Key: "x", Effect: corev1.TaintEffectNoSchedule}}, &v1alpha5.KubeletConfiguration{MaxPods: &maxPods})
	if err != nil {
		t.Fatal(err)
	}
	want := "#!/bin/bash\n/etc/eks/bootstrap.sh 'demo' --apiserver-endpoint 'https://example.com' --b64-cluster-ca 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=' --use-max-pods false --kubelet-extra-args '--node-labels=karpenter.sh/capacity-type=spot,team=blue --register-with-taints=gpu=true:NoExecute,x=:NoSchedule --max-pods=58'\n"
	if ud != want {
		t.Errorf("user data =\n%s\nwant\n%s", ud, want)
	}
	bs, err := node.ParseUserData([]byte(ud))
	if err != nil {
		t.Fatalf("sandbox bootstrap parser rejects it: %v", err)
	}
	if bs.MaxPods != 58 || bs.Labels["team"] != "blue" || len(bs.Taints) != 2 {
		t.Errorf("parsed = %+v", bs)
	}
	if _, err := BootstrapUserData(&ClusterInfo{Name: "demo", Endpoint: "https://e", CABase64: "x"}, nil,
		[]corev1.Taint{{Key: "a", Effect: "Sometimes"}}, nil); err == nil || !strings.Contains(err.Error(), "taints[0].effect") {
		t.Errorf("bad effect error = %v", err)
	}
}
