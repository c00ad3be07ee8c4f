package node

import (
	"encoding/base64"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseUserDataScript(t *testing.T) {
	script := "#!/bin/bash\nset -ex\nCA='" + b64(testCA) + "'\n" +
		"/etc/eks/bootstrap.sh 'demo' --apiserver-endpoint \"https://127.0.0.1:6443\" \\\n" +
		"  --b64-cluster-ca $CA --container-runtime containerd \\\n" +
		"  --kubelet-extra-args '--node-labels=karpenter.sh/provisioner-name=default,team=a b --register-with-taints=dedicated=gpu:NoSchedule,spot:PreferNoSchedule --max-pods=29'\n"
	// "team=a b" splits: "b" is a stray kubelet arg that is ignored, as the kubelet would reject
	// it; keep the test to what matters: labels and taints before it.
	script = strings.Replace(script, "team=a b", "team=a", 1)
	b, err := ParseUserData([]byte(script))
	if err != nil {
		t.Fatal(err)
	}
	if b.ClusterName != "demo" || b.APIServerEndpoint != "https://127.0.0.1:6443" || string(b.ClusterCA) != testCA {
		t.Fatalf("bootstrap = %+v", b)
	}
	if b.Labels["karpenter.sh/provisioner-name"] != "default" || b.Labels["team"] != "a" || len(b.Labels) != 2 {
		t.Fatalf("labels = %v", b.Labels)
	}
	want := []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}, {Key: "spot", Effect: corev1.TaintEffectPreferNoSchedule}}
	if len(b.Taints) != 2 || b.Taints[0] != want[0] || b.Taints[1] != want[1] {
		t.Fatalf("taints = %v", b.Taints)
	}
	if b.MaxPods != 29 {
		t.Fatalf("max pods = %d", b.MaxPods)
	}
}

func TestParseUserDataMIME(t *testing.T) {
	doc := "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"//\"\r\n\r\n" +
		"--//\r\nContent-Type: text/cloud-config\r\n\r\n#cloud-config\r\n\r\n" +
		"--//\r\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\r\n\r\n#!/bin/bash -xe\r\n" +
		"exec > >(tee /var/log/user-data.log) 2>&1\n" +
		"/etc/eks/bootstrap.sh demo --apiserver-endpoint=https://x --b64-cluster-ca '" + b64(testCA) + "' --max-pods 58\n" +
		"--//--\r\n"
	b, err := ParseUserData([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if b.ClusterName != "demo" || b.APIServerEndpoint != "https://x" || b.MaxPods != 58 {
		t.Fatalf("bootstrap = %+v", b)
	}
}

func TestParseUserDataErrors(t *testing.T) {
	ca := b64(testCA)
	for name, tc := range map[string]struct{ data, want string }{
		"no bootstrap":   {"#!/bin/bash\necho hi\n", "no call of /etc/eks/bootstrap.sh"},
		"syntax":         {"/etc/eks/bootstrap.sh demo 'unterminated\n", "shell syntax"},
		"no cluster":     {"/etc/eks/bootstrap.sh --apiserver-endpoint https://x --b64-cluster-ca " + ca, "exactly one cluster name"},
		"no endpoint":    {"/etc/eks/bootstrap.sh demo --b64-cluster-ca " + ca, "--apiserver-endpoint is missing"},
		"bad ca":         {"/etc/eks/bootstrap.sh demo --apiserver-endpoint https://x --b64-cluster-ca '!!'", "--b64-cluster-ca"},
		"unknown option": {"/etc/eks/bootstrap.sh demo --bogus 1", `unknown option "--bogus"`},
		"missing value":  {"/etc/eks/bootstrap.sh demo --apiserver-endpoint", "needs a value"},
		"bad label":      {"/etc/eks/bootstrap.sh demo --apiserver-endpoint https://x --b64-cluster-ca " + ca + " --kubelet-extra-args '--node-labels=noequals'", "not key=value"},
		"node-role label": {"/etc/eks/bootstrap.sh demo --apiserver-endpoint https://x --b64-cluster-ca " + ca + " --kubelet-extra-args '--node-labels=team=a,node-role.kubernetes.io/worker=true'",
			"unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [node-role.kubernetes.io/worker]"},
		"k8s.io label": {"/etc/eks/bootstrap.sh demo --apiserver-endpoint https://x --b64-cluster-ca " + ca + " --kubelet-extra-args '--node-labels=kops.k8s.io/instancegroup=a'",
			"[kops.k8s.io/instancegroup]"},
		"duplicate taint": {"/etc/eks/bootstrap.sh demo --apiserver-endpoint https://x --b64-cluster-ca " + ca + " --kubelet-extra-args '--register-with-taints=a=b:NoSchedule,a=c:NoSchedule'",
			"duplicated taints with the same key and effect"},
		"bad taint":       {"/etc/eks/bootstrap.sh demo --apiserver-endpoint https://x --b64-cluster-ca " + ca + " --kubelet-extra-args '--register-with-taints=a=b:Sometimes'", "effect"},
		"cmd subst":       {"/etc/eks/bootstrap.sh $(hostname) --apiserver-endpoint https://x", "arguments"},
		"mime no scripts": {"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n--b--\n", "no text/x-shellscript"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseUserData([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestKubeReserved(t *testing.T) {
	// Values from the EKS AL2 bootstrap formula worked by hand.
	for _, tc := range []struct {
		vcpus, pods int32
		cpu, mem    int64
	}{
		{1, 4, 60, 299},
		{2, 17, 70, 442}, // t3.small/medium: 60+10
		{4, 58, 80, 893}, // 60+10+10
		{5, 58, 82, 893}, // +1000*25/10000 = 2 (integer arithmetic)
		{96, 737, 310, 8362},
	} {
		cpu, mem := KubeReserved(tc.vcpus, tc.pods)
		if cpu != tc.cpu || mem != tc.mem {
			t.Errorf("KubeReserved(%d, %d) = %d m, %d MiB; want %d m, %d MiB", tc.vcpus, tc.pods, cpu, mem, tc.cpu, tc.mem)
		}
	}
}

func TestBuildNode(t *testing.T) {
	inst := Instance{InstanceID: "i-0123", InstanceType: "g5.xlarge", Zone: "us-east-1b", PrivateDNSName: "ip-10-0-64-5.ec2.internal",
		PrivateIPAddress: "10.0.64.5", CapacityType: "spot", VCPUs: 4, MemoryMiB: 16384, GPUs: 1, Architecture: "x86_64", MaxPods: 58}
	b := &Bootstrap{Labels: map[string]string{"team": "a"}, Taints: []corev1.Taint{{Key: "gpu", Effect: corev1.TaintEffectNoSchedule}}}
	n, err := BuildNode(inst, b, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != inst.PrivateDNSName || n.Spec.ProviderID != "aws:///us-east-1b/i-0123" {
		t.Fatalf("name %q providerID %q", n.Name, n.Spec.ProviderID)
	}
	for k, v := range map[string]string{"team": "a", LabelArch: "amd64", LabelOS: "linux", LabelInstanceType: "g5.xlarge",
		LabelZone: "us-east-1b", LabelRegion: "us-east-1", LabelCapacityType: "spot", LabelHostname: inst.PrivateDNSName,
		// the legacy keys a real kubelet and the AWS cloud provider still set
		"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/instance-type": "g5.xlarge",
		"failure-domain.beta.kubernetes.io/zone": "us-east-1b", "failure-domain.beta.kubernetes.io/region": "us-east-1"} {
		if n.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, n.Labels[k], v)
		}
	}
	if n.Annotations["kwok.x-k8s.io/node"] != "fake" || len(n.Spec.Taints) != 1 || len(n.Finalizers) != 0 {
		t.Fatalf("annotations %v taints %v finalizers %v", n.Annotations, n.Spec.Taints, n.Finalizers)
	}
	alloc := n.Status.Allocatable
	if got := alloc.Cpu().MilliValue(); got != 4000-80 {
		t.Errorf("allocatable cpu = %d m", got)
	}
	if got := alloc.Memory().Value() >> 20; got != 16384-893-100 {
		t.Errorf("allocatable memory = %d MiB", got)
	}
	if got := alloc.Pods().Value(); got != 58 {
		t.Errorf("pods = %d", got)
	}
	if q := n.Status.Capacity[ResourceGPU]; q.Value() != 1 {
		t.Errorf("gpu = %v", q)
	}
	if q := n.Status.Capacity[corev1.ResourceEphemeralStorage]; q.Value() != 20<<30 {
		t.Errorf("ephemeral = %v", q.String())
	}
	// user data wins over the instance lifecycle; max-pods from user data wins over ENI limit
	b.Labels[LabelCapacityType] = "on-demand"
	b.MaxPods = 110
	n, _ = BuildNode(inst, b, "")
	if n.Labels[LabelCapacityType] != "on-demand" || n.Status.Capacity.Pods().Value() != 110 || n.Labels[LabelRegion] != "us-east-1" {
		t.Fatalf("labels %v capacity %v", n.Labels, n.Status.Capacity)
	}
	if _, err := BuildNode(Instance{InstanceID: "i-1", PrivateDNSName: "x", Architecture: "sparc"}, b, ""); err == nil {
		t.Fatal("unknown architecture accepted")
	}
}
