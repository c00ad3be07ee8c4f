package aws

import (
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/node"
)

var testCluster = &ClusterInfo{Name: "demo", Endpoint: "https://example.com", CABase64: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="}

// Every v0.31 kubelet field becomes its kubelet flag (bootstrap.sh's --container-runtime for the
// runtime), and the sandbox's bootstrap parser takes the result.
func TestBootstrapUserDataKubeletConfiguration(t *testing.T) {
	kc := &v1alpha5.KubeletConfiguration{
		ClusterDNS: []string{"10.100.0.10", "10.100.0.11"}, ContainerRuntime: ptr.To("containerd"),
		MaxPods: ptr.To[int32](110), PodsPerCore: ptr.To[int32](10),
		SystemReserved:            map[string]v1alpha5.KubeletValue{"memory": "100Mi", "cpu": "100m"},
		KubeReserved:              map[string]v1alpha5.KubeletValue{"cpu": "200m"},
		EvictionHard:              map[string]v1alpha5.KubeletValue{"memory.available": "5%", "nodefs.available": "10%"},
		EvictionSoft:              map[string]v1alpha5.KubeletValue{"memory.available": "500Mi"},
		EvictionSoftGracePeriod:   map[string]v1alpha5.KubeletValue{"memory.available": "1m30s"},
		EvictionMaxPodGracePeriod: ptr.To[int32](60), ImageGCHighThresholdPercent: ptr.To[int32](85),
		ImageGCLowThresholdPercent: ptr.To[int32](80), CPUCFSQuota: ptr.To(false),
	}
	ud, err := BootstrapUserData(testCluster, map[string]string{"team": "a"}, nil, kc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		" --container-runtime 'containerd' --use-max-pods false --kubelet-extra-args '--node-labels=team=a --max-pods=110 --pods-per-core=10 " +
			"--cluster-dns=10.100.0.10,10.100.0.11 --system-reserved=cpu=100m,memory=100Mi --kube-reserved=cpu=200m " +
			"--eviction-hard=memory.available<5%,nodefs.available<10% --eviction-soft=memory.available<500Mi " +
			"--eviction-soft-grace-period=memory.available=1m30s --eviction-max-pod-grace-period=60 " +
			"--image-gc-high-threshold=85 --image-gc-low-threshold=80 --cpu-cfs-quota=false'\n",
	} {
		if !strings.HasSuffix(ud, want) {
			t.Errorf("user data =\n%s\nwant it to end with\n%s", ud, want)
		}
	}
	bs, err := node.ParseUserData([]byte(ud))
	if err != nil {
		t.Fatalf("sandbox bootstrap parser rejects it: %v", err)
	}
	if bs.MaxPods != 110 || bs.Labels["team"] != "a" {
		t.Errorf("parsed = %+v", bs)
	}
	kc.EvictionHard["memory.available"] = "1Gi' ; rm -rf / '"
	if _, err := BootstrapUserData(testCluster, nil, nil, kc); err == nil || !strings.Contains(err.Error(), "spec.kubeletConfiguration.evictionHard[memory.available]") {
		t.Errorf("a quote in a value: error = %v", err)
	}
}

// maxPods, podsPerCore, kubeReserved, systemReserved and evictionHard change the capacity and
// overhead the solver packs against, as the kubelet computes allocatable.
func TestKubeletAllocatable(t *testing.T) {
	info := &ec2types.InstanceTypeInfo{
		InstanceType: "m5.xlarge", VCpuInfo: &ec2types.VCpuInfo{DefaultVCpus: awssdk.Int32(4)},
		MemoryInfo:  &ec2types.MemoryInfo{SizeInMiB: awssdk.Int64(16384)},
		NetworkInfo: &ec2types.NetworkInfo{MaximumNetworkInterfaces: awssdk.Int32(4), Ipv4AddressesPerInterface: awssdk.Int32(15)},
	}
	pods := func(kc *v1alpha5.KubeletConfiguration) int64 {
		q := capacity(info, kc)[corev1.ResourcePods]
		return q.Value()
	}
	if got := pods(nil); got != 58 {
		t.Errorf("ENI pods = %d, want 58", got)
	}
	if got := pods(&v1alpha5.KubeletConfiguration{MaxPods: ptr.To[int32](110)}); got != 110 {
		t.Errorf("maxPods 110: pods = %d", got)
	}
	if got := pods(&v1alpha5.KubeletConfiguration{MaxPods: ptr.To[int32](110), PodsPerCore: ptr.To[int32](5)}); got != 20 {
		t.Errorf("podsPerCore 5 on 4 vCPUs: pods = %d, want 20", got)
	}
	if got := pods(&v1alpha5.KubeletConfiguration{PodsPerCore: ptr.To[int32](0)}); got != 58 {
		t.Errorf("podsPerCore 0 (no cap): pods = %d, want 58", got)
	}

	capNil := capacity(info, nil)
	def, err := kubeletOverhead(capNil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Defaults: 80m CPU (4 cores); 11*58+255 = 893Mi + 100Mi eviction = 993Mi; 1Gi + 2Gi (10% of 20Gi).
	if c, m, d := def[corev1.ResourceCPU], def[corev1.ResourceMemory], def[corev1.ResourceEphemeralStorage]; c.MilliValue() != 80 || m.Value() != 993<<20 || d.Value() != 3<<30 {
		t.Errorf("default overhead = cpu %s memory %s disk %s", c.String(), m.String(), d.String())
	}
	kc := &v1alpha5.KubeletConfiguration{
		KubeReserved:   map[string]v1alpha5.KubeletValue{"cpu": "500m", "memory": "1Gi", "pid": "1000"},
		SystemReserved: map[string]v1alpha5.KubeletValue{"cpu": "100m", "ephemeral-storage": "1Gi"},
		EvictionHard:   map[string]v1alpha5.KubeletValue{"memory.available": "500Mi", "nodefs.available": "5%"},
	}
	got, err := kubeletOverhead(capNil, kc)
	if err != nil {
		t.Fatal(err)
	}
	if c, m, d := got[corev1.ResourceCPU], got[corev1.ResourceMemory], got[corev1.ResourceEphemeralStorage]; c.MilliValue() != 600 || m.Value() != 1524<<20 || d.Value() != 3<<30 {
		t.Errorf("overhead = cpu %s (want 600m) memory %s (want 1524Mi) disk %s (want 1Gi kube + 1Gi system + 1Gi 5%%)", c.String(), m.String(), d.String())
	}
	mem := capNil[corev1.ResourceMemory]
	pct, err := kubeletOverhead(capNil, &v1alpha5.KubeletConfiguration{EvictionHard: map[string]v1alpha5.KubeletValue{"memory.available": "10%"}})
	if err != nil {
		t.Fatal(err)
	}
	if m := pct[corev1.ResourceMemory]; m.Value() != 893<<20+mem.Value()/10 {
		t.Errorf("10%% memory eviction: overhead memory %s, want 893Mi + %d", m.String(), mem.Value()/10)
	}
	if _, err := kubeletOverhead(capNil, &v1alpha5.KubeletConfiguration{KubeReserved: map[string]v1alpha5.KubeletValue{"memory": "lots"}}); err == nil ||
		!strings.Contains(err.Error(), "spec.kubeletConfiguration.kubeReserved[memory]") {
		t.Errorf("bad quantity: error = %v", err)
	}
}

// The sandbox's node (the kubelet's stand-in) withholds from capacity what the solver expects
// it to, for the defaults and for a kubelet configuration: what the controller plans is what
// registers.
func TestKubeletOverheadMatchesSandboxNode(t *testing.T) {
	info := &ec2types.InstanceTypeInfo{
		InstanceType: "m5.xlarge", VCpuInfo: &ec2types.VCpuInfo{DefaultVCpus: awssdk.Int32(4)},
		MemoryInfo:  &ec2types.MemoryInfo{SizeInMiB: awssdk.Int64(16384)},
		NetworkInfo: &ec2types.NetworkInfo{MaximumNetworkInterfaces: awssdk.Int32(4), Ipv4AddressesPerInterface: awssdk.Int32(15)},
	}
	for name, kc := range map[string]*v1alpha5.KubeletConfiguration{
		"defaults": nil,
		"configured": {
			MaxPods: ptr.To[int32](110), PodsPerCore: ptr.To[int32](20),
			KubeReserved:   map[string]v1alpha5.KubeletValue{"cpu": "500m", "memory": "1Gi"},
			SystemReserved: map[string]v1alpha5.KubeletValue{"memory": "200Mi", "ephemeral-storage": "2Gi"},
			EvictionHard:   map[string]v1alpha5.KubeletValue{"memory.available": "5%", "nodefs.available": "15%"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := capacity(info, kc)
			want, err := kubeletOverhead(c, kc)
			if err != nil {
				t.Fatal(err)
			}
			ud, err := BootstrapUserData(testCluster, nil, nil, kc)
			if err != nil {
				t.Fatal(err)
			}
			bs, err := node.ParseUserData([]byte(ud))
			if err != nil {
				t.Fatal(err)
			}
			mem := c[corev1.ResourceMemory]
			n, err := node.BuildNode(node.Instance{InstanceID: "i-1", InstanceType: "m5.xlarge", Zone: "us-east-1a", PrivateDNSName: "ip-10-0-0-1.ec2.internal",
				VCPUs: 4, MemoryMiB: mem.Value() >> 20, Architecture: "x86_64", MaxPods: int32(ENIMaxPods(info))}, bs, "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			if p, q := n.Status.Capacity[corev1.ResourcePods], c[corev1.ResourcePods]; p.Cmp(q) != 0 {
				t.Errorf("pods: node %s, solver %s", p.String(), q.String())
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
				got := n.Status.Capacity[r]
				got.Sub(n.Status.Allocatable[r])
				if w := want[r]; got.Cmp(w) != 0 {
					t.Errorf("%s withheld: node %s, solver %s", r, got.String(), w.String())
				}
			}
		})
	}
}
