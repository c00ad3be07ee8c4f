package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// provisionerDriftConfig sets every attribute of karpenter_provisioner across three resources
// (provider_ref, launch_template and consolidation.enabled = true each exclude something the
// others set): "full" with the aws block's launch settings, "ref" with provider_ref and
// consolidation, "lt" with a named launch template.
const provisionerDriftConfig = `
resource "karpenter_provisioner" "full" {
  name                      = "drift-full"
  labels                    = { team = "a", "example.com/tier" = "gold" }
  annotations               = { "example.com/owner" = "platform" }
  weight                    = 10
  ttl_seconds_after_empty   = 30
  ttl_seconds_until_expired = 2592000
  termination_grace_period  = "1h30m"
  requirement {
    key      = "karpenter.sh/capacity-type"
    operator = "In"
    values   = ["spot", "on-demand"]
  }
  requirement {
    key      = "kubernetes.io/arch"
    operator = "In"
    values   = ["amd64"]
  }
  requirement {
    key      = "example.com/gpu"
    operator = "DoesNotExist"
  }
  taint {
    key    = "dedicated"
    value  = "gpu"
    effect = "NoSchedule"
  }
  taint {
    key    = "example.com/empty"
    value  = ""
    effect = "NoExecute"
  }
  startup_taint {
    key    = "example.com/init"
    value  = "pending"
    effect = "NoSchedule"
  }
  limits {
    cpu       = "1000"
    memory    = "1000Gi"
    resources = { "nvidia.com/gpu" = "8", pods = "500" }
  }
  kubelet_configuration {
    cluster_dns                     = ["10.100.0.10"]
    container_runtime               = "containerd"
    max_pods                        = 110
    pods_per_core                   = 10
    system_reserved                 = { cpu = "100m", memory = "100Mi" }
    kube_reserved                   = { cpu = "200m" }
    eviction_hard                   = { "memory.available" = "5%" }
    eviction_soft                   = { "memory.available" = "500Mi" }
    eviction_soft_grace_period      = { "memory.available" = "1m30s" }
    eviction_max_pod_grace_period   = 60
    image_gc_high_threshold_percent = 85
    image_gc_low_threshold_percent  = 80
    cpu_cfs_quota                   = false
  }
  consolidation {
    enabled = false
  }
  aws {
    subnet_selector         = { "karpenter.sh/discovery" = "drift" }
    security_group_selector = { "karpenter.sh/discovery" = "drift" }
    instance_profile        = "drift-profile"
    tags                    = { team = "a" }
    ami_family              = "AL2"
    user_data               = "#!/bin/bash\necho drift\n"
    detailed_monitoring     = true
    block_device_mappings {
      device_name = "/dev/xvda"
      ebs {
        delete_on_termination = true
        encrypted             = true
        iops                  = 3000
        kms_key_id            = "alias/drift"
        snapshot_id           = "snap-0123456789abcdef0"
        throughput            = 125
        volume_size           = "100Gi"
        volume_type           = "gp3"
      }
    }
    block_device_mappings {
      device_name = "/dev/xvdb"
      ebs {
        iops        = 1000
        volume_size = "50Gi"
        volume_type = "io1"
      }
    }
    metadata_options {
      http_endpoint               = "enabled"
      http_protocol_ipv6          = "disabled"
      http_put_response_hop_limit = 2
      http_tokens                 = "required"
    }
  }
}

resource "karpenter_provisioner" "ref" {
  name = "drift-ref"
  provider_ref = {
    name        = "default"
    kind        = "AWSNodeTemplate"
    api_version = ""
  }
  consolidation {
    enabled = true
  }
}

resource "karpenter_provisioner" "lt" {
  name = "drift-lt"
  aws {
    subnet_selector         = { "karpenter.sh/discovery" = "drift" }
    security_group_selector = { "karpenter.sh/discovery" = "drift" }
    launch_template         = "drift-template"
  }
}
`

// driftRow is one out-of-band change of a live Provisioner: patch (RFC 6902) applied to the
// Provisioner of resource karpenter_provisioner.<res> must plan an in-place update whose diff
// lies entirely under attr (a schema path: attribute and block names joined by dots, without
// list indices), and applying must restore the object.
type driftRow struct {
	attr  string
	res   string // full, ref or lt
	patch string
}

// provisionerDriftRows covers every attribute and block of the resource's schema
// (TestProvisionerDriftRowsCoverSchema): a new attribute needs a row here.
var provisionerDriftRows = []driftRow{
	{"labels", "full", `[{"op":"replace","path":"/spec/labels/team","value":"b"}]`},
	{"labels", "full", `[{"op":"remove","path":"/spec/labels/example.com~1tier"}]`},
	{"annotations", "full", `[{"op":"add","path":"/spec/annotations/example.com~1extra","value":"x"}]`},
	{"weight", "full", `[{"op":"replace","path":"/spec/weight","value":20}]`},
	{"weight", "lt", `[{"op":"add","path":"/spec/weight","value":5}]`},
	{"ttl_seconds_after_empty", "full", `[{"op":"replace","path":"/spec/ttlSecondsAfterEmpty","value":60}]`},
	{"ttl_seconds_until_expired", "full", `[{"op":"replace","path":"/spec/ttlSecondsUntilExpired","value":86400}]`},
	{"termination_grace_period", "full", `[{"op":"replace","path":"/spec/terminationGracePeriod","value":"2h"}]`},
	{"requirement", "full", `[{"op":"add","path":"/spec/requirements/-","value":{"key":"kubernetes.io/os","operator":"In","values":["linux"]}}]`},
	{"requirement", "full", `[{"op":"remove","path":"/spec/requirements/1"}]`},
	{"requirement.key", "full", `[{"op":"replace","path":"/spec/requirements/2/key","value":"example.com/other"}]`},
	{"requirement.operator", "full", `[{"op":"replace","path":"/spec/requirements/0/operator","value":"NotIn"}]`},
	{"requirement.values", "full", `[{"op":"remove","path":"/spec/requirements/0/values/1"}]`},
	{"requirement.values", "full", `[{"op":"replace","path":"/spec/requirements/1/values/0","value":"arm64"}]`},
	{"taint", "full", `[{"op":"remove","path":"/spec/taints/0"}]`},
	{"taint.key", "full", `[{"op":"replace","path":"/spec/taints/0/key","value":"dedicated2"}]`},
	{"taint.value", "full", `[{"op":"replace","path":"/spec/taints/0/value","value":"cpu"}]`},
	{"taint.value", "full", `[{"op":"add","path":"/spec/taints/1/value","value":"set"}]`},
	{"taint.effect", "full", `[{"op":"replace","path":"/spec/taints/1/effect","value":"NoSchedule"}]`},
	{"startup_taint", "full", `[{"op":"add","path":"/spec/startupTaints/-","value":{"key":"example.com/second","effect":"NoSchedule"}}]`},
	{"startup_taint.key", "full", `[{"op":"replace","path":"/spec/startupTaints/0/key","value":"example.com/init2"}]`},
	{"startup_taint.value", "full", `[{"op":"remove","path":"/spec/startupTaints/0/value"}]`},
	{"startup_taint.effect", "full", `[{"op":"replace","path":"/spec/startupTaints/0/effect","value":"NoExecute"}]`},
	{"limits", "full", `[{"op":"remove","path":"/spec/limits"}]`},
	{"limits.cpu", "full", `[{"op":"replace","path":"/spec/limits/resources/cpu","value":"2000"}]`},
	{"limits.memory", "full", `[{"op":"remove","path":"/spec/limits/resources/memory"}]`},
	{"limits.resources", "full", `[{"op":"add","path":"/spec/limits/resources/ephemeral-storage","value":"2Ti"}]`},
	{"limits.resources", "full", `[{"op":"replace","path":"/spec/limits/resources/nvidia.com~1gpu","value":"4"}]`},
	{"limits.resources", "full", `[{"op":"remove","path":"/spec/limits/resources/pods"}]`},
	{"kubelet_configuration", "full", `[{"op":"remove","path":"/spec/kubeletConfiguration"}]`},
	{"kubelet_configuration.cluster_dns", "full", `[{"op":"add","path":"/spec/kubeletConfiguration/clusterDNS/-","value":"10.100.0.11"}]`},
	{"kubelet_configuration.container_runtime", "full", `[{"op":"replace","path":"/spec/kubeletConfiguration/containerRuntime","value":"dockerd"}]`},
	{"kubelet_configuration.max_pods", "full", `[{"op":"replace","path":"/spec/kubeletConfiguration/maxPods","value":58}]`},
	{"kubelet_configuration.pods_per_core", "full", `[{"op":"remove","path":"/spec/kubeletConfiguration/podsPerCore"}]`},
	{"kubelet_configuration.system_reserved", "full", `[{"op":"replace","path":"/spec/kubeletConfiguration/systemReserved/memory","value":"200Mi"}]`},
	{"kubelet_configuration.kube_reserved", "full", `[{"op":"add","path":"/spec/kubeletConfiguration/kubeReserved/memory","value":"1Gi"}]`},
	{"kubelet_configuration.eviction_hard", "full", `[{"op":"add","path":"/spec/kubeletConfiguration/evictionHard/nodefs.available","value":"10%"}]`},
	{"kubelet_configuration.eviction_soft", "full", `[{"op":"replace","path":"/spec/kubeletConfiguration/evictionSoft/memory.available","value":"1Gi"}]`},
	{"kubelet_configuration.eviction_soft_grace_period", "full", `[{"op":"replace","path":"/spec/kubeletConfiguration/evictionSoftGracePeriod/memory.available","value":"2m"}]`},
	{"kubelet_configuration.eviction_max_pod_grace_period", "full", `[{"op":"replace","path":"/spec/kubeletConfiguration/evictionMaxPodGracePeriod","value":30}]`},
	{"kubelet_configuration.image_gc_high_threshold_percent", "full", `[{"op":"replace","path":"/spec/kubeletConfiguration/imageGCHighThresholdPercent","value":90}]`},
	{"kubelet_configuration.image_gc_low_threshold_percent", "full", `[{"op":"replace","path":"/spec/kubeletConfiguration/imageGCLowThresholdPercent","value":70}]`},
	{"kubelet_configuration.cpu_cfs_quota", "full", `[{"op":"replace","path":"/spec/kubeletConfiguration/cpuCFSQuota","value":true}]`},
	{"consolidation", "ref", `[{"op":"remove","path":"/spec/consolidation"}]`},
	{"consolidation", "lt", `[{"op":"add","path":"/spec/consolidation","value":{"enabled":true}}]`},
	{"consolidation.enabled", "ref", `[{"op":"replace","path":"/spec/consolidation/enabled","value":false}]`},
	{"consolidation.enabled", "full", `[{"op":"remove","path":"/spec/consolidation/enabled"}]`},
	{"aws", "lt", `[{"op":"remove","path":"/spec/provider"}]`},
	{"aws.subnet_selector", "full", `[{"op":"add","path":"/spec/provider/subnetSelector/aws-ids","value":"subnet-1"}]`},
	{"aws.security_group_selector", "full", `[{"op":"replace","path":"/spec/provider/securityGroupSelector/karpenter.sh~1discovery","value":"other"}]`},
	{"aws.instance_profile", "full", `[{"op":"replace","path":"/spec/provider/instanceProfile","value":"other-profile"}]`},
	{"aws.tags", "full", `[{"op":"add","path":"/spec/provider/tags/cost-center","value":"42"}]`},
	{"aws.ami_family", "full", `[{"op":"replace","path":"/spec/provider/amiFamily","value":"Ubuntu"}]`},
	{"aws.launch_template", "lt", `[{"op":"replace","path":"/spec/provider/launchTemplate","value":"other-template"}]`},
	{"aws.user_data", "full", `[{"op":"replace","path":"/spec/provider/userData","value":"#!/bin/bash\necho changed\n"}]`},
	{"aws.detailed_monitoring", "full", `[{"op":"replace","path":"/spec/provider/detailedMonitoring","value":false}]`},
	{"aws.block_device_mappings", "full", `[{"op":"add","path":"/spec/provider/blockDeviceMappings/-","value":{"deviceName":"/dev/xvdf","ebs":{"volumeSize":"20Gi"}}}]`},
	{"aws.block_device_mappings.device_name", "full", `[{"op":"replace","path":"/spec/provider/blockDeviceMappings/0/deviceName","value":"/dev/xvdc"}]`},
	{"aws.block_device_mappings.ebs", "full", `[{"op":"replace","path":"/spec/provider/blockDeviceMappings/0/ebs","value":{"volumeSize":"100Gi"}}]`},
	{"aws.block_device_mappings.ebs.delete_on_termination", "full", `[{"op":"replace","path":"/spec/provider/blockDeviceMappings/0/ebs/deleteOnTermination","value":false}]`},
	{"aws.block_device_mappings.ebs.encrypted", "full", `[{"op":"remove","path":"/spec/provider/blockDeviceMappings/0/ebs/encrypted"}]`},
	{"aws.block_device_mappings.ebs.iops", "full", `[{"op":"replace","path":"/spec/provider/blockDeviceMappings/0/ebs/iops","value":4000}]`},
	{"aws.block_device_mappings.ebs.kms_key_id", "full", `[{"op":"replace","path":"/spec/provider/blockDeviceMappings/0/ebs/kmsKeyID","value":"alias/other"}]`},
	{"aws.block_device_mappings.ebs.snapshot_id", "full", `[{"op":"replace","path":"/spec/provider/blockDeviceMappings/0/ebs/snapshotID","value":"snap-01234567"}]`},
	{"aws.block_device_mappings.ebs.throughput", "full", `[{"op":"replace","path":"/spec/provider/blockDeviceMappings/0/ebs/throughput","value":250}]`},
	{"aws.block_device_mappings.ebs.volume_size", "full", `[{"op":"replace","path":"/spec/provider/blockDeviceMappings/0/ebs/volumeSize","value":"200Gi"}]`},
	{"aws.block_device_mappings.ebs.volume_type", "full", `[{"op":"replace","path":"/spec/provider/blockDeviceMappings/1/ebs/volumeType","value":"io2"}]`},
	{"aws.metadata_options", "full", `[{"op":"remove","path":"/spec/provider/metadataOptions"}]`},
	{"aws.metadata_options.http_endpoint", "full", `[{"op":"replace","path":"/spec/provider/metadataOptions/httpEndpoint","value":"disabled"}]`},
	{"aws.metadata_options.http_protocol_ipv6", "full", `[{"op":"replace","path":"/spec/provider/metadataOptions/httpProtocolIPv6","value":"enabled"}]`},
	{"aws.metadata_options.http_put_response_hop_limit", "full", `[{"op":"replace","path":"/spec/provider/metadataOptions/httpPutResponseHopLimit","value":1}]`},
	{"aws.metadata_options.http_tokens", "full", `[{"op":"replace","path":"/spec/provider/metadataOptions/httpTokens","value":"optional"}]`},
	{"provider_ref", "ref", `[{"op":"remove","path":"/spec/providerRef"}]`},
	{"provider_ref.name", "ref", `[{"op":"replace","path":"/spec/providerRef/name","value":"other"}]`},
	{"provider_ref.kind", "ref", `[{"op":"remove","path":"/spec/providerRef/kind"}]`},
	{"provider_ref.api_version", "ref", `[{"op":"add","path":"/spec/providerRef/apiVersion","value":"karpenter.k8s.aws/v1beta1"}]`},
	// Fields the configuration leaves unset, set outside Terraform (lt sets only the aws block).
	{"labels", "lt", `[{"op":"add","path":"/spec/labels","value":{"team":"b"}}]`},
	{"annotations", "lt", `[{"op":"add","path":"/spec/annotations","value":{"example.com/owner":"other"}}]`},
	{"ttl_seconds_after_empty", "lt", `[{"op":"add","path":"/spec/ttlSecondsAfterEmpty","value":30}]`},
	{"ttl_seconds_until_expired", "lt", `[{"op":"add","path":"/spec/ttlSecondsUntilExpired","value":3600}]`},
	{"termination_grace_period", "lt", `[{"op":"add","path":"/spec/terminationGracePeriod","value":"10m"}]`},
	{"requirement", "lt", `[{"op":"add","path":"/spec/requirements","value":[{"key":"kubernetes.io/os","operator":"Exists"}]}]`},
	{"taint", "lt", `[{"op":"add","path":"/spec/taints","value":[{"key":"dedicated","effect":"NoSchedule"}]}]`},
	{"startup_taint", "lt", `[{"op":"add","path":"/spec/startupTaints","value":[{"key":"example.com/init","value":"","effect":"NoSchedule"}]}]`},
	{"limits", "lt", `[{"op":"add","path":"/spec/limits","value":{"resources":{"nvidia.com/gpu":"1"}}}]`},
	{"kubelet_configuration", "lt", `[{"op":"add","path":"/spec/kubeletConfiguration","value":{"maxPods":20}}]`},
	{"aws.tags", "lt", `[{"op":"add","path":"/spec/provider/tags","value":{"team":"b"}}]`},
	{"aws.instance_profile", "lt", `[{"op":"add","path":"/spec/provider/instanceProfile","value":"other-profile"}]`},
	{"aws.ami_family", "lt", `[{"op":"add","path":"/spec/provider/amiFamily","value":"Bottlerocket"}]`},
	{"provider_ref.kind", "ref", `[{"op":"replace","path":"/spec/providerRef/kind","value":"Other"}]`},
}

// driftExempt are the schema paths without a drift row, and why.
var driftExempt = map[string]string{
	"id":   "computed: the object's name",
	"name": "the object's identity: a Provisioner of another name is another object (a missing one plans a create)",
}

// schemaPaths lists every attribute and nested block of a resource schema as dotted paths
// (nested attributes and blocks included, list indices omitted). Unknown nested kinds fail t.
func schemaPaths(t *testing.T, attrs map[string]schema.Attribute, blocks map[string]schema.Block, prefix string) []string {
	var out []string
	for name, a := range attrs {
		p := prefix + name
		out = append(out, p)
		switch a := a.(type) {
		case schema.SingleNestedAttribute:
			out = append(out, schemaPaths(t, a.Attributes, nil, p+".")...)
		case schema.StringAttribute, schema.Int64Attribute, schema.BoolAttribute, schema.MapAttribute, schema.ListAttribute:
		default:
			t.Errorf("%s: attribute kind %T: extend schemaPaths", p, a)
		}
	}
	for name, b := range blocks {
		p := prefix + name
		out = append(out, p)
		switch b := b.(type) {
		case schema.ListNestedBlock:
			out = append(out, schemaPaths(t, b.NestedObject.Attributes, b.NestedObject.Blocks, p+".")...)
		case schema.SingleNestedBlock:
			out = append(out, schemaPaths(t, b.Attributes, b.Blocks, p+".")...)
		default:
			t.Errorf("%s: block kind %T: extend schemaPaths", p, b)
		}
	}
	slices.Sort(out)
	return out
}

// Every attribute and block of karpenter_provisioner has a drift row (or an exemption), and
// every row names one of them: an attribute added to the schema fails here until its drift is
// tested by TestAccProvisionerDrift.
func TestProvisionerDriftRowsCoverSchema(t *testing.T) {
	var resp resource.SchemaResponse
	(&provisionerResource{}).Schema(context.Background(), resource.SchemaRequest{}, &resp)
	paths := schemaPaths(t, resp.Schema.Attributes, resp.Schema.Blocks, "")
	covered := map[string]bool{}
	for _, r := range provisionerDriftRows {
		covered[r.attr] = true
		if !slices.Contains(paths, r.attr) {
			t.Errorf("drift row %s %s: no such attribute or block in the schema", r.attr, r.patch)
		}
		if r.res != "full" && r.res != "ref" && r.res != "lt" {
			t.Errorf("drift row %s: unknown resource %q", r.attr, r.res)
		}
	}
	var missing []string
	for _, p := range paths {
		if !covered[p] && driftExempt[p] == "" {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Errorf("schema attributes without a drift row in provisionerDriftRows: %s", strings.Join(missing, ", "))
	}
	n := 0
	for _, b := range driftBatches(provisionerDriftRows, driftBatchSize) {
		n += len(b)
		seen := map[string]bool{}
		for _, r := range b {
			k := r.res + " " + strings.SplitN(r.attr, ".", 2)[0]
			if seen[k] || len(b) > driftBatchSize {
				t.Errorf("drift batch %v: two rows change %s, or too many rows", b, k)
			}
			seen[k] = true
		}
	}
	if n != len(provisionerDriftRows) {
		t.Errorf("drift batches hold %d rows, the table %d", n, len(provisionerDriftRows))
	}
	if len(paths) < 60 {
		t.Errorf("schema walk found only %d paths: %v", len(paths), paths)
	}
}

// Drift of every field: each row's out-of-band change plans an in-place update whose diff is
// exactly under the row's attribute; applying restores the live Provisioner to what it was
// after the first apply, and the plan after it is empty (resource.Test fails a step whose
// post-apply plan is not). One sandbox; rows are applied in batches (driftBatches) of distinct
// attributes, each batch one step whose plan must show each row's attribute and nothing else.
func TestAccProvisionerDrift(t *testing.T) {
	_, kc := startSandbox(t)
	installProvisionerCRD(t)
	names := map[string]string{"full": "drift-full", "ref": "drift-ref", "lt": "drift-lt"}
	baseline := map[string]string{}
	liveSpec := func(res string) (string, error) {
		var p v1alpha5.Provisioner
		if err := kc.Get(ctx, types.NamespacedName{Name: names[res]}, &p); err != nil {
			return "", err
		}
		b, err := json.Marshal(p.Spec)
		return string(b), err
	}
	steps := []tfresource.TestStep{{
		Config: provisionerDriftConfig,
		Check: func(*terraform.State) error {
			for res := range names {
				s, err := liveSpec(res)
				if err != nil {
					return err
				}
				baseline[res] = s
			}
			return nil
		},
	}}
	for _, batch := range driftBatches(provisionerDriftRows, driftBatchSize) {
		want := map[string][]string{}
		var what []string
		for _, row := range batch {
			addr := "karpenter_provisioner." + row.res
			want[addr] = append(want[addr], row.attr)
			what = append(what, row.attr+" on "+addr)
		}
		steps = append(steps, tfresource.TestStep{
			PreConfig: func() {
				for _, row := range batch {
					t.Logf("drift of %s on %s: %s", row.attr, row.res, row.patch)
					p := &v1alpha5.Provisioner{}
					p.Name = names[row.res]
					if err := kc.Patch(ctx, p, client.RawPatch(types.JSONPatchType, []byte(row.patch))); err != nil {
						t.Fatalf("drift row %s (%s): patch refused: %v", row.attr, row.patch, err)
					}
				}
			},
			Config:           provisionerDriftConfig,
			ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{driftPlanCheck{want: want}}},
			Check: func(*terraform.State) error {
				for res := range names {
					s, err := liveSpec(res)
					if err != nil {
						return err
					}
					if s != baseline[res] {
						return fmt.Errorf("after drift of %s, apply left %s as\n%s\nwant\n%s", strings.Join(what, ", "), res, s, baseline[res])
					}
				}
				return nil
			},
		})
	}
	tfresource.Test(t, tfresource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
}

// driftPlanCheck asserts that the plan updates each resource address of want in place, that
// every value such an update changes lies under one of the address's attributes (schema paths,
// see driftRow), that it changes a value under each of them, and that no other resource changes.
type driftPlanCheck struct{ want map[string][]string }

func (c driftPlanCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	found := map[string]bool{}
	for _, rc := range req.Plan.ResourceChanges {
		attrs, ok := c.want[rc.Address]
		if !ok {
			if !rc.Change.Actions.NoOp() {
				resp.Error = fmt.Errorf("drift of %v: %s also planned %v", c.want, rc.Address, rc.Change.Actions)
				return
			}
			continue
		}
		found[rc.Address] = true
		what := strings.Join(attrs, ", ")
		if !rc.Change.Actions.Update() {
			resp.Error = fmt.Errorf("drift of %s: %s planned %v, want an in-place update", what, rc.Address, rc.Change.Actions)
			return
		}
		diffs := diffPaths(nil, rc.Change.Before, rc.Change.After)
		under := func(d []string, attr string) bool {
			want := strings.Split(attr, ".")
			return len(d) >= len(want) && slices.Equal(d[:len(want)], want)
		}
		for _, attr := range attrs {
			if !slices.ContainsFunc(diffs, func(d []string) bool { return under(d, attr) }) {
				resp.Error = fmt.Errorf("drift of %s: the update of %s does not change %s (all changes: %v)", what, rc.Address, attr, diffs)
				return
			}
		}
		for _, d := range diffs {
			if !slices.ContainsFunc(attrs, func(attr string) bool { return under(d, attr) }) {
				resp.Error = fmt.Errorf("drift of %s: the plan of %s also changes %s (all changes: %v)", what, rc.Address, strings.Join(d, "."), diffs)
				return
			}
		}
	}
	for addr := range c.want {
		if !found[addr] {
			resp.Error = fmt.Errorf("drift of %v: no change planned for %s", c.want[addr], addr)
		}
	}
}

// driftBatchSize is how many rows one step applies together (first fit, in table order), so
// that the test takes about a third of the steps; rows in a step change distinct top-level
// attributes or distinct resources, so their diffs stay apart.
const driftBatchSize = 3

// driftBatches packs rows into batches of at most size rows whose (resource, top-level
// attribute) pairs differ, first fit in table order.
func driftBatches(rows []driftRow, size int) [][]driftRow {
	key := func(r driftRow) string { return r.res + " " + strings.SplitN(r.attr, ".", 2)[0] }
	var out [][]driftRow
	for _, r := range rows {
		i := slices.IndexFunc(out, func(b []driftRow) bool {
			return len(b) < size && !slices.ContainsFunc(b, func(o driftRow) bool { return key(o) == key(r) })
		})
		if i < 0 {
			out = append(out, nil)
			i = len(out) - 1
		}
		out[i] = append(out[i], r)
	}
	return out
}

// diffPaths lists the paths (object keys; list indices dropped) at which two decoded JSON
// values differ: the deepest objects that differ, and whole lists whose lengths differ.
func diffPaths(at []string, a, b any) [][]string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		var out [][]string
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			out = append(out, diffPaths(append(slices.Clip(at), k), am[k], bm[k])...)
		}
		return out
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		var out [][]string
		for i := range al {
			out = append(out, diffPaths(at, al[i], bl[i])...)
		}
		return out
	}
	if reflect.DeepEqual(a, b) {
		return nil
	}
	return [][]string{slices.Clone(at)}
}
