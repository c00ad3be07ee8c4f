package aws

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/node"
)

// The SSM parameter of each family and variant, as AWS, Bottlerocket and Canonical publish them.
func TestAMIParameter(t *testing.T) {
	for _, tc := range []struct {
		family string
		v      amiVariant
		want   string
	}{
		{"AL2", amiStandard, "/aws/service/eks/optimized-ami/1.37/amazon-linux-2/recommended/image_id"},
		{"AL2", amiGPU, "/aws/service/eks/optimized-ami/1.37/amazon-linux-2-gpu/recommended/image_id"},
		{"Bottlerocket", amiARM64, "/aws/service/bottlerocket/aws-k8s-1.37/arm64/latest/image_id"},
		{"Bottlerocket", amiGPU, "/aws/service/bottlerocket/aws-k8s-1.37-nvidia/x86_64/latest/image_id"},
		{"Ubuntu", amiStandard, "/aws/service/canonical/ubuntu/eks/20.04/1.37/stable/current/amd64/hvm/ebs-gp2/ami-id"},
		{"Ubuntu", amiARM64, "/aws/service/canonical/ubuntu/eks/20.04/1.37/stable/current/arm64/hvm/ebs-gp2/ami-id"},
	} {
		if got := amiParameter(tc.family, "1.37", tc.v); got != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.family, tc.v, got, tc.want)
		}
	}
}

// A custom MIME document's parts are kept, in order and with their types, before the bootstrap
// part; a custom script becomes the first part; the result is what the sandbox's AL2 boot reads.
func TestMergeMIMEUserData(t *testing.T) {
	custom := "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"==B==\"\r\n\r\n--==B==\r\nContent-Type: text/cloud-config\r\n\r\npackages: [jq]\r\n--==B==\r\nContent-Type: text/x-shellscript\r\n\r\n#!/bin/bash\necho first\r\n--==B==--\r\n"
	ud, err := UserData(v1alpha5.AMIFamilyAL2, testCluster, map[string]string{"team": "a"}, nil, nil, &custom)
	if err != nil {
		t.Fatal(err)
	}
	iCfg, iFirst, iBoot := strings.Index(ud, "packages: [jq]"), strings.Index(ud, "echo first"), strings.Index(ud, "/etc/eks/bootstrap.sh")
	if iCfg < 0 || iFirst < iCfg || iBoot < iFirst || !strings.Contains(ud, "Content-Type: text/cloud-config") {
		t.Errorf("parts out of order or lost:\n%s", ud)
	}
	if b, err := node.ParseUserData([]byte(ud)); err != nil || b.Labels["team"] != "a" {
		t.Errorf("sandbox AL2 boot: %+v, %v", b, err)
	}
	script, err := MergeMIMEUserData("#!/bin/bash\necho hi\n", "#!/bin/bash\n/etc/eks/bootstrap.sh x\n")
	if err != nil || strings.Count(script, "Content-Type: text/x-shellscript") != 2 || strings.Index(script, "echo hi") > strings.Index(script, "bootstrap.sh") {
		t.Errorf("script merge = %q, %v", script, err)
	}
	again, _ := MergeMIMEUserData("#!/bin/bash\necho hi\n", "#!/bin/bash\n/etc/eks/bootstrap.sh x\n")
	if again != script {
		t.Error("equal input gave different user data (launch template names would churn)")
	}
}

// Custom Bottlerocket settings are kept; the controller's cluster, labels, taints and kubelet
// settings are written over them; the sandbox's Bottlerocket boot reads the result.
func TestBottlerocketUserData(t *testing.T) {
	custom := "[settings.kubernetes]\ncluster-name = \"other\"\nmax-pods = 5\n[settings.kubernetes.node-labels]\nteam = \"user\"\nextra = \"kept\"\n[settings.host-containers.admin]\nenabled = true\n"
	kc := &v1alpha5.KubeletConfiguration{MaxPods: ptr.To[int32](42), ClusterDNS: []string{"10.0.0.10", "10.0.0.11"},
		KubeReserved: map[string]v1alpha5.KubeletValue{"cpu": "200m"}, EvictionHard: map[string]v1alpha5.KubeletValue{"memory.available": "5%"},
		ImageGCHighThresholdPercent: ptr.To[int32](85), CPUCFSQuota: ptr.To(false)}
	taints := []corev1.Taint{{Key: "a", Value: "b", Effect: corev1.TaintEffectNoSchedule}, {Key: "a", Effect: corev1.TaintEffectNoExecute}}
	ud, err := UserData(v1alpha5.AMIFamilyBottlerocket, testCluster, map[string]string{"team": "blue"}, taints, kc, &custom)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[settings.host-containers.admin]", "cluster-dns-ip = '10.0.0.10'", "image-gc-high-threshold-percent = 85", "cpu-cfs-quota-enforced = false"} {
		if !strings.Contains(ud, want) {
			t.Errorf("user data lacks %q:\n%s", want, ud)
		}
	}
	b, err := node.ParseBottlerocketUserData([]byte(ud))
	if err != nil {
		t.Fatalf("sandbox Bottlerocket boot: %v\n%s", err, ud)
	}
	if b.ClusterName != "demo" || b.MaxPods != 42 || b.Labels["team"] != "blue" || b.Labels["extra"] != "kept" || len(b.Taints) != 2 || b.EvictionHard["memory.available"] != "5%" {
		t.Errorf("bootstrap = %+v", b)
	}
	// Soft eviction, as Bottlerocket's settings (its kubelet-config template reads these keys).
	kc = &v1alpha5.KubeletConfiguration{PodsPerCore: ptr.To[int32](3), ContainerRuntime: ptr.To("containerd"),
		EvictionSoft:              map[string]v1alpha5.KubeletValue{"memory.available": "1Gi", "nodefs.available": "15%"},
		EvictionSoftGracePeriod:   map[string]v1alpha5.KubeletValue{"memory.available": "2m", "nodefs.available": "1m30s"},
		EvictionMaxPodGracePeriod: ptr.To[int32](90)}
	ud, err = BottlerocketUserData(testCluster, nil, nil, kc, "")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Settings struct {
			Kubernetes map[string]any `toml:"kubernetes"`
		} `toml:"settings"`
	}
	if err := toml.Unmarshal([]byte(ud), &doc); err != nil {
		t.Fatal(err)
	}
	k8s := doc.Settings.Kubernetes
	if fmt.Sprint(k8s["eviction-soft"]) != "map[memory.available:1Gi nodefs.available:15%]" ||
		fmt.Sprint(k8s["eviction-soft-grace-period"]) != "map[memory.available:2m nodefs.available:1m30s]" ||
		fmt.Sprint(k8s["eviction-max-pod-grace-period"]) != "90" {
		t.Errorf("soft eviction settings: %v\n%s", k8s, ud)
	}
	// No Bottlerocket setting exists for these; podsPerCore reaches the node as max-pods (set
	// per instance type group by fleetConfigs), not here.
	for _, key := range []string{"pods-per-core", "container-runtime", "max-pods"} {
		if _, ok := k8s[key]; ok {
			t.Errorf("user data has %s:\n%s", key, ud)
		}
	}
	for _, bad := range []string{"not = [toml", "settings = 1\n", "[settings]\nkubernetes = \"x\"\n", "[settings.kubernetes]\nnode-labels = 3\n"} {
		if _, err := BottlerocketUserData(testCluster, nil, nil, nil, bad); err == nil || !strings.Contains(err.Error(), "spec.provider.userData") {
			t.Errorf("custom %q: error %v, want one at spec.provider.userData", bad, err)
		}
	}
}
