package v1alpha5

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

func TestValidateLabelKey(t *testing.T) {
	cases := []struct {
		key         string
		requirement bool
		want        string // "" = allowed
	}{
		{"team", false, ""},
		{"example.com/team", false, ""},
		{"node.kubernetes.io/lifecycle", false, ""},
		{"kubelet.kubernetes.io/x", false, ""},
		{"topology.kubernetes.io/zone", false, ""},
		{"kubernetes.io/arch", false, ""},
		{"karpenter.sh/capacity-type", false, ""},
		{"karpenter.k8s.aws/instance-family", true, ""},
		{"karpenter.k8s.aws/instance-family", false, "restricted label domain karpenter.k8s.aws"},
		{"sub.karpenter.k8s.aws/x", false, "restricted label domain sub.karpenter.k8s.aws"},
		{"karpenter.k8s.aws.example.com/x", false, ""},
		{"karpenter.sh/provisioner-name", true, ""},
		{"karpenter.sh/provisioner-name", false, "restricted label domain karpenter.sh"},
		{"node-role.kubernetes.io/worker", false, "restricted label domain node-role.kubernetes.io"},
		{"node-role.kubernetes.io/worker", true, "restricted label domain node-role.kubernetes.io"},
		{"kubernetes.io/hostname", true, "restricted label domain kubernetes.io"},
		{"kops.k8s.io/instancegroup", false, "restricted label domain kops.k8s.io"},
		{"node-restriction.kubernetes.io/x", false, "restricted label domain"},
		{"sub.karpenter.sh/x", true, "restricted label domain sub.karpenter.sh"},
		{"-team", false, "alphanumeric"},
		{"a/b/c", true, "optional DNS subdomain prefix"},
	}
	for _, tc := range cases {
		got := strings.Join(ValidateLabelKey(tc.key, tc.requirement), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("ValidateLabelKey(%q, %v) = %q, want %q", tc.key, tc.requirement, got, tc.want)
		}
	}
}

func TestValidateTagKey(t *testing.T) {
	cases := map[string]string{ // key -> the reason's text, "" = allowed
		"team":                       "",
		"Name":                       "",
		"karpenter.sh/team":          "",
		"kubernetes.io/cluster":      "",
		strings.Repeat("k", 128):     "",
		strings.Repeat("é", 128):     "", // characters, not bytes
		"":                           TagKeyLengthMessage,
		strings.Repeat("k", 129):     TagKeyLengthMessage,
		"aws:team":                   TagKeyAWSMessage,
		"AwS:team":                   TagKeyAWSMessage,
		TagProvisionerName:           TagKeyReservedMessage,
		TagManagedBy:                 TagKeyReservedMessage,
		TagCluster:                   TagKeyReservedMessage,
		TagNodeClaim:                 TagKeyReservedMessage,
		"kubernetes.io/cluster/demo": TagKeyReservedMessage,
	}
	for key, want := range cases {
		got := strings.Join(ValidateTagKey(key), "; ")
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("ValidateTagKey(%q) = %q, want %q", key, got, want)
		}
	}
}

// ValidateClusterDNS takes what the CRD's CEL isIP() takes (k8s.io/apiserver's ip library):
// no zones, no IPv4-mapped IPv6, no leading zeros.
func TestValidateClusterDNS(t *testing.T) {
	for ip, ok := range map[string]bool{
		"10.100.0.10": true, "fd00::a": true, "169.254.20.10": true, "::1": true,
		"": false, "kube-dns": false, "10.0.0.010": false, "::ffff:10.0.0.1": false, "fe80::1%eth0": false,
		"10.0.0.0/8": false, " 10.0.0.1": false,
	} {
		if got := ValidateClusterDNS(ip) == ""; got != ok {
			t.Errorf("ValidateClusterDNS(%q) accepted = %v, want %v", ip, got, ok)
		}
	}
}

func TestSpecValidateReportsFieldPaths(t *testing.T) {
	spec := ProvisionerSpec{
		Labels:                 map[string]string{"node-role.kubernetes.io/worker": "", "team": "a"},
		Requirements:           []NodeSelectorRequirement{{Key: "zone"}, {Key: "k8s.io/x", Operator: corev1.NodeSelectorOpExists}},
		Taints:                 []corev1.Taint{{Key: "a", Effect: corev1.TaintEffectNoSchedule}, {Key: "bad key", Effect: corev1.TaintEffectNoSchedule}},
		StartupTaints:          []corev1.Taint{{Key: "a", Effect: corev1.TaintEffectNoSchedule}},
		TTLSecondsAfterEmpty:   ptr.To[int64](1 << 62),
		TTLSecondsUntilExpired: ptr.To[int64](-1),
		TerminationGracePeriod: &metav1.Duration{Duration: MaxTerminationGracePeriod + time.Second},
	}
	errs := spec.Validate(field.NewPath("spec"))
	want := []string{
		"spec.labels[node-role.kubernetes.io/worker]", "spec.requirements[1].key", "spec.taints[1].key",
		"spec.startupTaints[0]: Duplicate value", "spec.ttlSecondsAfterEmpty", "spec.ttlSecondsUntilExpired", "spec.terminationGracePeriod",
	}
	msg := errs.ToAggregate().Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("errors %q do not mention %q", msg, w)
		}
	}
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d: %v", len(errs), len(want), errs)
	}
	ok := ProvisionerSpec{Labels: map[string]string{"team": "a"}, TTLSecondsAfterEmpty: ptr.To(MaxTTLSeconds),
		TerminationGracePeriod: &metav1.Duration{Duration: MaxTerminationGracePeriod}}
	if errs := ok.Validate(field.NewPath("spec")); len(errs) > 0 {
		t.Errorf("a spec at the bounds was refused: %v", errs)
	}
}

func TestTTLNeverOverflows(t *testing.T) {
	for _, s := range []int64{1<<63 - 1, 9223372037, MaxTTLSeconds + 1} {
		d, ok := TTL(&s)
		if !ok || d != time.Duration(MaxTTLSeconds)*time.Second {
			t.Errorf("TTL(%d) = %v, %v; want the bound", s, d, ok)
		}
	}
	neg := int64(-5)
	if d, _ := TTL(&neg); d != 0 {
		t.Errorf("TTL(-5) = %v, want 0", d)
	}
	if _, ok := TTL(nil); ok {
		t.Error("TTL(nil) reported a TTL")
	}
}

// Validate accepts every valid corpus Provisioner (the CRD and plan accept them too; see
// provider's TestProvisionerCorpus), so the controller never refuses what the API server took.
func TestValidateAcceptsValidCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "provisioners", "valid", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid corpus: %v", err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var p Provisioner
		if err := yaml.UnmarshalStrict(raw, &p); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if errs := p.Spec.Validate(field.NewPath("spec")); len(errs) > 0 {
			t.Errorf("%s: %v", f, errs)
		}
	}
}

// VolumeSizeGiB rounds up to whole GiB, and its errors say what is wrong: a negative size is
// called negative, not "not a quantity".
func TestVolumeSizeGiB(t *testing.T) {
	for _, c := range []struct {
		in      VolumeSize
		want    int32
		wantErr string
	}{
		{"100Gi", 100, ""},
		{"1.5Ti", 1536, ""},
		{"21474836480", 20, ""},
		{"1500M", 2, ""},
		{"-4Gi", 0, `"-4Gi" is negative: the size must be a positive quantity of 1Gi to 64Ti`},
		{"-1", 0, `"-1" is negative`},
		{"20GB", 0, `"20GB" is not a quantity such as 100Gi`},
		{"-", 0, `"-" is not a quantity`},
		{"512Mi", 0, `"512Mi" must be between 1Gi and 64Ti`},
		{"65Ti", 0, `"65Ti" must be between 1Gi and 64Ti`},
	} {
		got, err := VolumeSizeGiB(c.in)
		switch {
		case c.wantErr == "" && (err != nil || got != c.want):
			t.Errorf("VolumeSizeGiB(%q) = %d, %v; want %d", c.in, got, err, c.want)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("VolumeSizeGiB(%q) error = %v; want one containing %q", c.in, err, c.wantErr)
		}
	}
}

// Validate checks spec.provider as the CRD does, for objects that did not pass the API server.
func TestValidateProvider(t *testing.T) {
	size := VolumeSize("65Ti")
	spec := ProvisionerSpec{Provider: &AWS{
		AMIFamily: ptr.To("Custom"), LaunchTemplate: ptr.To("lt"), UserData: ptr.To("x"),
		BlockDeviceMappings: []BlockDeviceMapping{{DeviceName: "/dev/xvda", EBS: BlockDevice{VolumeSize: &size}}, {DeviceName: "/dev/xvda"}},
	}}
	got := map[string]bool{}
	for _, e := range spec.Validate(field.NewPath("spec")) {
		got[e.Field] = true
	}
	for _, want := range []string{"spec.provider.amiFamily", "spec.provider.userData", "spec.provider.blockDeviceMappings",
		"spec.provider.blockDeviceMappings[0].ebs.volumeSize", "spec.provider.blockDeviceMappings[1]"} {
		if !got[want] {
			t.Errorf("no error at %s; got %v", want, got)
		}
	}
}

// A user data line that fails to parse is not repeated in the error (it may hold a secret), and
// TOML values are named by their TOML types.
func TestUserDataErrorsDoNotRepeatTheUserData(t *testing.T) {
	for _, ud := range []string{
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"//\"\n\n--//\nContent-Type: text/x-shellscript\nAUTH_TOKEN=supersecret123 no colon here\n\necho hi\n--//--\n",
		"MIME-Version: 1.0\nAUTH_TOKEN=supersecret123\nContent-Type: multipart/mixed; boundary=\"//\"\n\n--//--\n",
		// A parameter that does not parse, in the document's and in a part's Content-Type.
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"; token=\"supersecret123\n\n--B\n\necho hi\n--B--\n",
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"\n\n--B\nContent-Type: text/x-shellscript; token=\"supersecret123\n\necho hi\n--B--\n",
		"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"\n\n--B\nContent-Transfer-Encoding: supersecret123\n\necho hi\n--B--\n",
	} {
		err := ValidateUserData(AMIFamilyAL2, ud)
		if err == nil || strings.Contains(err.Error(), "supersecret123") {
			t.Errorf("want an error without the secret, got %v", err)
		}
	}
	for ud, want := range map[string]string{
		"settings = 1979-05-27":                         "settings is a local date, not a table",
		"[settings]\nkubernetes = 07:32:00":             "settings.kubernetes is a local time, not a table",
		"[settings]\nkubernetes = 1979-05-27T07:32:00Z": "settings.kubernetes is an offset date-time, not a table",
		"[settings]\nkubernetes = [1]":                  "settings.kubernetes is an array, not a table",
	} {
		if err := ValidateUserData(AMIFamilyBottlerocket, ud); err == nil || err.Error() != want {
			t.Errorf("%q: want %q, got %v", ud, want, err)
		}
	}
}

// MIME user data is refused where cloud-init would not run it as written: a part whose body
// does not decode by its Content-Transfer-Encoding, an encoding outside RFC 2045's, a header
// that does not parse; with a message that says which.
func TestMIMEUserDataPartsMustDecode(t *testing.T) {
	doc := func(headers, body string) string {
		return "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n" + headers + "\r\n\r\n" + body + "\r\n--B--\r\n"
	}
	for _, tc := range []struct{ ud, want string }{
		{doc("Content-Type: text/x-shellscript\r\nContent-Transfer-Encoding: base64", "ZWNobyBoaQo="), ""},
		{doc("Content-Type: text/x-shellscript\r\nContent-Transfer-Encoding: BASE64", "ZWNo\r\nbyBoaQo="), ""},
		{doc("Content-Type: text/x-shellscript\r\nContent-Transfer-Encoding: quoted-printable", "echo =3D hi"), ""},
		{doc("Content-Type: text/x-shellscript\r\nContent-Transfer-Encoding: 7bit", "echo hi"), ""},
		{doc("Content-Type: text/x-shellscript\r\nContent-Transfer-Encoding: base64", "Zx9!!!@@@"), "MIME part 0: the base64 body does not decode: illegal base64 data at input byte 3"},
		{doc("Content-Type: text/x-shellscript\r\nContent-Transfer-Encoding: gzip", "echo hi"), "MIME part 0: unknown Content-Transfer-Encoding (one of 7bit, 8bit, binary, base64, quoted-printable)"},
		{doc("Content-Type: text/x-shellscript; charset", "echo hi"), "MIME part 0: the Content-Type header does not parse: mime: invalid media parameter"},
		{"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"; x=\"open\n\n--B\n\necho\n--B--\n", "the document's Content-Type header does not parse"},
		{"MIME-Version: 1.0\nContent-Type: text/x-shellscript\n\necho hi\n", "a MIME document must be multipart, not text/x-shellscript"},
		{"MIME-Version: 1.0\nContent-Type: multipart/mixed\n\n--x\n\necho\n--x--\n", "the document's Content-Type multipart/mixed has no boundary parameter"},
		{"MIME-Version: 1.0\n\necho hi\n", "a MIME document must have a multipart Content-Type header"},
	} {
		err := ValidateUserData(AMIFamilyAL2, tc.ud)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: want no error, got %v", tc.ud, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("%q: want an error starting %q, got %v", tc.ud, tc.want, err)
		}
	}
}

func TestLimitResourceNamesAreQualifiedNames(t *testing.T) {
	spec := ProvisionerSpec{Limits: &Limits{Resources: corev1.ResourceList{"foo bar": resource.MustParse("1"), "nvidia.com/gpu": resource.MustParse("8")}}}
	errs := spec.Validate(field.NewPath("spec"))
	if len(errs) != 1 || errs[0].Field != `spec.limits.resources[foo bar]` {
		t.Fatalf("want one error at spec.limits.resources[foo bar], got %v", errs)
	}
}

// RequirementsConflict finds the requirement after which a key admits no value (with the
// provisioner's label of that key), and accepts what some value satisfies.
func TestRequirementsConflict(t *testing.T) {
	req := func(key string, op corev1.NodeSelectorOperator, values ...string) NodeSelectorRequirement {
		return NodeSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	const ct, zone, cpu = LabelCapacityType, "topology.kubernetes.io/zone", "karpenter.k8s.aws/instance-cpu"
	for _, c := range []struct {
		name   string
		labels map[string]string
		reqs   []NodeSelectorRequirement
		want   int
	}{
		{"label against In", map[string]string{ct: "on-demand"}, []NodeSelectorRequirement{req(ct, corev1.NodeSelectorOpIn, "spot")}, 0},
		{"label within In", map[string]string{ct: "spot"}, []NodeSelectorRequirement{req(ct, corev1.NodeSelectorOpIn, "spot", "on-demand")}, -1},
		{"label against NotIn", map[string]string{ct: "spot"}, []NodeSelectorRequirement{req(ct, corev1.NodeSelectorOpNotIn, "spot")}, 0},
		{"label against DoesNotExist", map[string]string{ct: "spot"}, []NodeSelectorRequirement{req(ct, corev1.NodeSelectorOpDoesNotExist)}, 0},
		{"In then NotIn", nil, []NodeSelectorRequirement{req(zone, corev1.NodeSelectorOpIn, "a", "b"), req(zone, corev1.NodeSelectorOpNotIn, "a"), req(zone, corev1.NodeSelectorOpNotIn, "b")}, 2},
		{"disjoint Ins", nil, []NodeSelectorRequirement{req(zone, corev1.NodeSelectorOpIn, "a"), req(zone, corev1.NodeSelectorOpIn, "b")}, 1},
		{"NotIn alone", nil, []NodeSelectorRequirement{req(zone, corev1.NodeSelectorOpNotIn, "a", "b", "c")}, -1},
		{"Exists and DoesNotExist", nil, []NodeSelectorRequirement{req(zone, corev1.NodeSelectorOpExists), req(zone, corev1.NodeSelectorOpDoesNotExist)}, 1},
		{"DoesNotExist alone", nil, []NodeSelectorRequirement{req("example.com/team", corev1.NodeSelectorOpDoesNotExist)}, -1},
		{"Gt Lt empty", nil, []NodeSelectorRequirement{req(cpu, corev1.NodeSelectorOpGt, "8"), req(cpu, corev1.NodeSelectorOpLt, "9")}, 1},
		{"Gt Lt one integer", nil, []NodeSelectorRequirement{req(cpu, corev1.NodeSelectorOpGt, "8"), req(cpu, corev1.NodeSelectorOpLt, "10")}, -1},
		{"Gt Lt one integer excluded", nil, []NodeSelectorRequirement{req(cpu, corev1.NodeSelectorOpGt, "8"), req(cpu, corev1.NodeSelectorOpLt, "10"), req(cpu, corev1.NodeSelectorOpNotIn, "9")}, 2},
		{"In against Gt", nil, []NodeSelectorRequirement{req(cpu, corev1.NodeSelectorOpIn, "2", "4"), req(cpu, corev1.NodeSelectorOpGt, "4")}, 1},
		{"In within Gt", nil, []NodeSelectorRequirement{req(cpu, corev1.NodeSelectorOpIn, "2", "8"), req(cpu, corev1.NodeSelectorOpGt, "4")}, -1},
		{"Gt not an integer left to other checks", nil, []NodeSelectorRequirement{req(cpu, corev1.NodeSelectorOpIn, "2"), req(cpu, corev1.NodeSelectorOpGt, "x")}, -1},
		{"other keys independent", map[string]string{ct: "spot"}, []NodeSelectorRequirement{req(zone, corev1.NodeSelectorOpIn, "a"), req(ct, corev1.NodeSelectorOpExists)}, -1},
		// Closed value sets and labels every launched node carries.
		{"capacity type DoesNotExist", nil, []NodeSelectorRequirement{req(ct, corev1.NodeSelectorOpDoesNotExist)}, 0},
		{"capacity type NotIn both", nil, []NodeSelectorRequirement{req(ct, corev1.NodeSelectorOpNotIn, "spot", "on-demand")}, 0},
		{"capacity type NotIn one", nil, []NodeSelectorRequirement{req(ct, corev1.NodeSelectorOpNotIn, "spot")}, -1},
		{"arch NotIn both over two", nil, []NodeSelectorRequirement{req(LabelArch, corev1.NodeSelectorOpNotIn, "amd64"), req(LabelArch, corev1.NodeSelectorOpNotIn, "arm64")}, 1},
		{"arch In unknown", nil, []NodeSelectorRequirement{req(LabelArch, corev1.NodeSelectorOpIn, "s390x")}, 0},
		{"arch In one known", nil, []NodeSelectorRequirement{req(LabelArch, corev1.NodeSelectorOpIn, "s390x", "arm64")}, -1},
		{"os NotIn linux", nil, []NodeSelectorRequirement{req(LabelOS, corev1.NodeSelectorOpNotIn, "linux")}, 0},
		{"os DoesNotExist", nil, []NodeSelectorRequirement{req(LabelOS, corev1.NodeSelectorOpDoesNotExist)}, 0},
		{"zone DoesNotExist", nil, []NodeSelectorRequirement{req(zone, corev1.NodeSelectorOpIn, "a"), req(LabelZone, corev1.NodeSelectorOpDoesNotExist)}, 1},
		{"instance type DoesNotExist", nil, []NodeSelectorRequirement{req(LabelInstanceType, corev1.NodeSelectorOpDoesNotExist)}, 0},
		{"provisioner name DoesNotExist", nil, []NodeSelectorRequirement{req(LabelProvisionerName, corev1.NodeSelectorOpDoesNotExist)}, 0},
		{"gpu count DoesNotExist (open, optional)", nil, []NodeSelectorRequirement{req(LabelInstanceGPUCount, corev1.NodeSelectorOpDoesNotExist)}, -1},
		{"zone NotIn many (open)", nil, []NodeSelectorRequirement{req(zone, corev1.NodeSelectorOpNotIn, "a", "b", "c")}, -1},
		{"Gt max int64", nil, []NodeSelectorRequirement{req(cpu, corev1.NodeSelectorOpGt, "9223372036854775807")}, 0},
		{"Gt just below max", nil, []NodeSelectorRequirement{req(cpu, corev1.NodeSelectorOpGt, "9223372036854775806")}, -1},
		{"Lt min int64", nil, []NodeSelectorRequirement{req(cpu, corev1.NodeSelectorOpLt, "-9223372036854775808")}, 0},
		{"Lt 0 accepted", nil, []NodeSelectorRequirement{req(cpu, corev1.NodeSelectorOpLt, "0")}, -1},
		{"Gt out of range left to ValidGtLtValues", nil, []NodeSelectorRequirement{req(cpu, corev1.NodeSelectorOpGt, "9223372036854775808")}, -1},
	} {
		got, why := RequirementsConflict(c.labels, c.reqs)
		if got != c.want {
			t.Errorf("%s: index %d (%q), want %d", c.name, got, why, c.want)
		}
		if got >= 0 && !strings.Contains(why, c.reqs[got].Key) {
			t.Errorf("%s: reason %q does not name the key", c.name, why)
		}
	}
}

// The reason says why the values are excluded, value by value, in a sentence.
func TestRequirementsConflictReasons(t *testing.T) {
	req := func(key string, op corev1.NodeSelectorOperator, values ...string) NodeSelectorRequirement {
		return NodeSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		reqs   []NodeSelectorRequirement
		want   []string
	}{
		{"In not greater", nil, []NodeSelectorRequirement{req("n", corev1.NodeSelectorOpIn, "3"), req("n", corev1.NodeSelectorOpGt, "5")}, []string{"3 is not greater than 5"}},
		{"In not less", nil, []NodeSelectorRequirement{req("n", corev1.NodeSelectorOpIn, "7"), req("n", corev1.NodeSelectorOpLt, "5")}, []string{"7 is not less than 5"}},
		{"label not an integer", map[string]string{"team": "abc"}, []NodeSelectorRequirement{req("team", corev1.NodeSelectorOpGt, "5")}, []string{"abc is not an integer", "the label team=abc"}},
		{"NotIn", nil, []NodeSelectorRequirement{req("z", corev1.NodeSelectorOpIn, "a"), req("z", corev1.NodeSelectorOpNotIn, "a")}, []string{"a is excluded by NotIn"}},
		{"closed set", nil, []NodeSelectorRequirement{req(LabelCapacityType, corev1.NodeSelectorOpNotIn, "spot", "on-demand")}, []string{"is on-demand or spot", "spot is excluded by NotIn"}},
		{"closed value", nil, []NodeSelectorRequirement{req(LabelArch, corev1.NodeSelectorOpIn, "s390x")}, []string{"s390x is not a value of kubernetes.io/arch (a node's is amd64 or arm64)"}},
		{"always present", nil, []NodeSelectorRequirement{req(LabelCapacityType, corev1.NodeSelectorOpDoesNotExist)}, []string{"every node the controller launches has karpenter.sh/capacity-type"}},
		{"max int64", nil, []NodeSelectorRequirement{req("n", corev1.NodeSelectorOpGt, "9223372036854775807")}, []string{"no 64-bit integer is greater than 9223372036854775807"}},
	} {
		_, why := RequirementsConflict(c.labels, c.reqs)
		for _, w := range c.want {
			if !strings.Contains(why, w) {
				t.Errorf("%s: reason %q does not say %q", c.name, why, w)
			}
		}
		if strings.Contains(why, "are all excluded") {
			t.Errorf("%s: reason %q", c.name, why)
		}
	}
}

// ValidGtLtValues accepts exactly what strconv.ParseInt(s, 10, 64) parses (without '+'), as
// Kubernetes and the controller read a Gt/Lt value, and the Validate error names the field.
func TestValidGtLtValues(t *testing.T) {
	for _, v := range []string{"0", "-0", "5", "-5", "007", "999999999999999999", "1000000000000000000",
		"9223372036854775807", "-9223372036854775808", "09223372036854775807", "-0009223372036854775808",
		"9223372036854775799", "9223372036854775800", "8999999999999999999", "9223372036854775808", "-9223372036854775809",
		"99999999999999999999", "18446744073709551615", "9300000000000000000", "9223372136854775807", "10000000000000000000",
		"", "-", "+5", "four", "1.5", "5 ", "1e3", "--1"} {
		_, err := strconv.ParseInt(v, 10, 64)
		want := err == nil && !strings.HasPrefix(v, "+")
		if got := ValidGtLtValues([]string{v}); got != want {
			t.Errorf("ValidGtLtValues(%q) = %v, want %v", v, got, want)
		}
	}
	for i := 0; i < 20000; i++ {
		n := rand.Int64()
		if rand.IntN(2) == 0 {
			n = -n - 1
		}
		if s := strconv.FormatInt(n, 10); !ValidGtLtValues([]string{s}) {
			t.Fatalf("ValidGtLtValues(%q) = false", s)
		}
		// Just beyond int64 in the last digits.
		u := uint64(math.MaxInt64) + 1 + uint64(rand.IntN(1000000))
		if s := strconv.FormatUint(u, 10); ValidGtLtValues([]string{s}) {
			t.Fatalf("ValidGtLtValues(%q) = true", s)
		}
	}
	if ValidGtLtValues(nil) || ValidGtLtValues([]string{"1", "2"}) {
		t.Error("not exactly one value accepted")
	}
	spec := ProvisionerSpec{Requirements: []NodeSelectorRequirement{
		{Key: LabelInstanceCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{"4"}},
		{Key: LabelInstanceCPU, Operator: corev1.NodeSelectorOpLt, Values: []string{"99999999999999999999"}},
	}}
	errs := spec.Validate(field.NewPath("spec"))
	if len(errs) != 1 || errs[0].Field != "spec.requirements[1].values" || !strings.Contains(errs[0].Error(), "64 bits") {
		t.Fatalf("want one error at spec.requirements[1].values, got %v", errs)
	}
}
