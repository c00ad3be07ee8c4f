package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// Plan-time validation needs no cloud: terraform validates the configuration before any call.
func TestProvisionerValidation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	cases := []struct {
		name, body string
		want       *regexp.Regexp
	}{
		{"unknown operator", `requirement {
  key = "karpenter.sh/capacity-type"
  operator = "Like"
  values = ["spot"]
}`, regexp.MustCompile(`(?s)requirement\[0\]\.operator.*value must be one of`)},
		{"negative ttl", `ttl_seconds_after_empty = -1`, regexp.MustCompile(`(?s)ttl_seconds_after_empty.*between 0 and`)},
		{"empty selector", `aws {
  subnet_selector = {}
  security_group_selector = { "karpenter.sh/discovery" = "demo" }
}`, regexp.MustCompile(`(?s)aws\[0\]\.subnet_selector.*at least 1 elements`)},
		{"unknown capacity type", `requirement {
  key = "karpenter.sh/capacity-type"
  operator = "In"
  values = ["spot", "reserved"]
}`, regexp.MustCompile(`requirement\[0\]\.values: "reserved": karpenter.sh/capacity-type`)},
		{"gt needs one integer", `requirement {
  key = "karpenter.k8s.aws/instance-cpu"
  operator = "Gt"
  values = ["four"]
}`, regexp.MustCompile(`(?s)requirement\[0\]\.values.*exactly one integer value`)},
		{"exists takes no values", `requirement {
  key = "karpenter.k8s.aws/instance-family"
  operator = "Exists"
  values = ["m5"]
}`, regexp.MustCompile(`Exists and DoesNotExist take no values`)},
		{"reserved label domain", `labels = { "karpenter.sh/team" = "a" }`, regexp.MustCompile(`(?s)labels\["karpenter.sh/team"\]: "karpenter.sh/team":\s+restricted\s+label\s+domain\s+karpenter.sh`)},
		{"node-role label", `labels = { "node-role.kubernetes.io/worker" = "" }`,
			regexp.MustCompile(`(?s)labels\["node-role.kubernetes.io/worker"\]:\s+"node-role.kubernetes.io/worker":\s+restricted\s+label\s+domain\s+node-role.kubernetes.io`)},
		{"k8s.io label", `labels = { "kops.k8s.io/instancegroup" = "a" }`, regexp.MustCompile(`(?s)labels\["kops.k8s.io/instancegroup"\].*restricted\s+label\s+domain`)},
		{"label key syntax", `labels = { "-team" = "a" }`, regexp.MustCompile(`(?s)labels\["-team"\].*alphanumeric`)},
		{"restricted requirement key", `requirement {
  key = "node-role.kubernetes.io/worker"
  operator = "Exists"
}`, regexp.MustCompile(`(?s)requirement\[0\]\.key:\s+"node-role.kubernetes.io/worker":\s+restricted\s+label\s+domain`)},
		{"hostname label", `labels = { "kubernetes.io/hostname" = "node-1" }`,
			regexp.MustCompile(`(?s)Invalid label key.*labels\["kubernetes.io/hostname"\]:\s+"kubernetes.io/hostname":\s+restricted\s+label\s+domain`)},
		{"taint key syntax", `taint {
  key = "no spaces"
  effect = "NoSchedule"
}`, regexp.MustCompile(`(?s)Invalid taint key.*taint\[0\]\.key: "no spaces"`)},
		{"taint value syntax", `taint {
  key = "dedicated"
  value = "not ok"
  effect = "NoSchedule"
}`, regexp.MustCompile(`(?s)Invalid taint value.*taint\[0\]\.value: "not ok"`)},
		{"second taint effect", `taint {
  key = "dedicated"
  effect = "NoSchedule"
}
taint {
  key = "dedicated"
  effect = "Sometimes"
}`, regexp.MustCompile(`(?s)taint\[1\]\.effect.*value must be one of`)},
		{"duplicate taint", `taint {
  key = "a"
  effect = "NoSchedule"
}
startup_taint {
  key = "a"
  value = "b"
  effect = "NoSchedule"
}`, regexp.MustCompile(`(?s)startup_taint\[0\]: taint a:NoSchedule is given twice`)},
		{"ttl overflow", `ttl_seconds_after_empty = 9223372036`, regexp.MustCompile(`(?s)ttl_seconds_after_empty.*between 0 and 3153600000`)},
		{"expiry overflow", `ttl_seconds_until_expired = 9223372036854775807`, regexp.MustCompile(`(?s)ttl_seconds_until_expired.*between 0 and 3153600000`)},
		{"grace too long", `termination_grace_period = "876001h"`, regexp.MustCompile(`(?s)termination_grace_period: "876001h": must be at most 876000h`)},
		{"grace overflow", `termination_grace_period = "9999999999999h"`, regexp.MustCompile(`(?s)termination_grace_period: "9999999999999h": want hours, minutes and seconds`)},
		{"grace in days", `termination_grace_period = "2d"`, regexp.MustCompile(`(?s)termination_grace_period: "2d": want hours, minutes and seconds`)},
		{"taint effect", `taint {
  key = "dedicated"
  effect = "Sometimes"
}`, regexp.MustCompile(`(?s)taint\[0\]\.effect.*value must be one of`)},
		{"bad quantity", `limits {
  cpu = "lots"
}`, regexp.MustCompile(`(?s)Invalid quantity.*limits\[0\]\.cpu: "lots"`)},
		{"weight range", `weight = 101`, regexp.MustCompile(`(?s)weight.*between 0 and 100`)},
		{"negative limit", `limits {
  memory = "-1Gi"
}`, regexp.MustCompile(`(?s)limits\[0\]\.memory: "-1Gi" must not be negative`)},
		// The CRD takes at most 64 resources in spec.limits.resources (its CEL rule's cost budget).
		{"too many limits", "limits {\n  cpu = \"1\"\n  resources = {" + manyResources(63) + "}\n}",
			regexp.MustCompile(`(?s)limits\[0\]\.resources.*at most 62 elements`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      "resource \"karpenter_provisioner\" \"bad\" {\n  name = \"bad\"\n" + tc.body + "\n}\n",
					PlanOnly:    true,
					ExpectError: tc.want,
				}},
			})
		})
	}
}

// Every error of one ebs block is reported, each at its attribute, whichever of them is
// found first: iops out of range and not allowed for the volume type, throughput not allowed
// for it, and no volume_size or snapshot_id.
func TestEBSErrorsAreReportedTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	cfg := ebsProvisioner(`
        volume_type = "gp2"
        iops        = 50
        throughput  = 200
`)
	ebs := `aws\[0\]\.block_device_mappings\[0\]\.ebs`
	var steps []resource.TestStep
	for _, want := range []string{
		ebs + `\.iops.*between 100 and 256000`,
		ebs + `\.iops: iops applies only to volume_type io1, io2 or gp3`,
		ebs + `\.throughput: throughput applies only to volume_type gp3`,
		ebs + `\.volume_size: volume_size is required unless snapshot_id is set`,
	} {
		// terraform wraps the detail: any space may be a line break.
		steps = append(steps, resource.TestStep{Config: cfg, PlanOnly: true, ExpectError: regexp.MustCompile(`(?s)` + strings.ReplaceAll(want, " ", `\s+`))})
	}
	resource.UnitTest(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
}

// A negative volume_size is called negative (not "not a quantity"), at its attribute path.
func TestNegativeVolumeSize(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	cfg := ebsProvisioner(` volume_size = "-4Gi" `)
	// terraform wraps the detail: any space may be a line break.
	want := regexp.MustCompile(`(?s)Invalid volume size.*aws\[0\]\.block_device_mappings\[0\]\.ebs\.volume_size:\s+"-4Gi"\s+is\s+negative:\s+the\s+size\s+must\s+be\s+a\s+positive`)
	resource.UnitTest(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{Config: cfg, PlanOnly: true, ExpectError: want}}})
}

// ebsProvisioner is a karpenter_provisioner "bad" with one block device mapping (/dev/xvda)
// whose ebs block holds body.
func ebsProvisioner(body string) string {
	return `resource "karpenter_provisioner" "bad" {
  name = "bad"
  aws {
    subnet_selector         = { "karpenter.sh/discovery" = "demo" }
    security_group_selector = { "karpenter.sh/discovery" = "demo" }
    block_device_mappings {
      device_name = "/dev/xvda"
      ebs {` + body + `}
    }
  }
}
`
}

// manyResources is n resource limits "example.com/r<i>" = "1", as HCL map entries.
func manyResources(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "\"example.com/r%d\" = \"1\"\n", i)
	}
	return b.String()
}
