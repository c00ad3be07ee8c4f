package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

const provisionerSurfaceConfig = `
resource "karpenter_provisioner" "surface" {
  name        = "surface"
  labels      = { team = "a" }
  annotations = { "example.com/owner" = "platform team" }
  requirement {
    key      = "karpenter.sh/capacity-type"
    operator = "In"
    values   = ["spot"]
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
    enabled = true
  }
  aws {
    subnet_selector         = { "karpenter.sh/discovery" = "demo" }
    security_group_selector = { "karpenter.sh/discovery" = "demo" }
    ami_family              = "Bottlerocket"
    tags                    = { team = "a" }
  }
}
`

// The whole v1alpha5 surface applies, reads back without a diff, imports, and shows drift of
// the fields Read used to lose (extra limits, kubelet settings, annotations).
func TestAccProvisionerSurface(t *testing.T) {
	_, kc := startSandbox(t)
	installProvisionerCRD(t)
	const addr = "karpenter_provisioner.surface"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: provisionerSurfaceConfig,
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "limits.0.resources.nvidia.com/gpu", "8"),
					checkLiveProvisioner(kc, func(p *v1alpha5.Provisioner) error {
						gpu := p.Spec.Limits.Resources["nvidia.com/gpu"]
						k := p.Spec.KubeletConfiguration
						switch {
						case gpu.Value() != 8:
							return fmt.Errorf("limits.resources[nvidia.com/gpu] = %s", gpu.String())
						case p.Spec.Annotations["example.com/owner"] != "platform team":
							return fmt.Errorf("annotations = %v", p.Spec.Annotations)
						case k == nil || k.EvictionSoftGracePeriod["memory.available"] != "1m30s" || k.CPUCFSQuota == nil || *k.CPUCFSQuota || *k.PodsPerCore != 10:
							return fmt.Errorf("kubeletConfiguration = %+v", k)
						}
						return nil
					}),
				),
			},
			{ResourceName: addr, ImportState: true, ImportStateId: "surface", ImportStateVerify: true},
			{
				// Out of band: a new limit and a changed kubelet threshold; plan shows both.
				PreConfig: func() {
					var p v1alpha5.Provisioner
					must(t, kc.Get(ctx, types.NamespacedName{Name: "surface"}, &p))
					p.Spec.Limits.Resources[corev1.ResourceEphemeralStorage] = apiresource.MustParse("2Ti")
					p.Spec.KubeletConfiguration.EvictionHard["memory.available"] = "10%"
					must(t, kc.Update(ctx, &p))
				},
				Config: provisionerSurfaceConfig, PlanOnly: true, ExpectNonEmptyPlan: true,
			},
			{
				Config: provisionerSurfaceConfig,
				Check: checkLiveProvisioner(kc, func(p *v1alpha5.Provisioner) error {
					if _, ok := p.Spec.Limits.Resources[corev1.ResourceEphemeralStorage]; ok || p.Spec.KubeletConfiguration.EvictionHard["memory.available"] != "5%" {
						return fmt.Errorf("drift not undone: %+v %+v", p.Spec.Limits, p.Spec.KubeletConfiguration.EvictionHard)
					}
					return nil
				}),
			},
		},
	})
}

func checkLiveProvisioner(kc client.Client, f func(*v1alpha5.Provisioner) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var p v1alpha5.Provisioner
		if err := kc.Get(ctx, types.NamespacedName{Name: "surface"}, &p); err != nil {
			return err
		}
		return f(&p)
	}
}

func TestAttributePathOf(t *testing.T) {
	for field, want := range map[string]string{
		"spec.requirements[0].key":                                    "requirement[0].key",
		"spec.labels[example.com/team]":                               `labels["example.com/team"]`,
		"spec.provider.subnetSelector":                                "aws[0].subnet_selector",
		"spec.limits.resources.cpu":                                   "limits[0].cpu",
		"spec.limits.resources.nvidia.com/gpu":                        `limits[0].resources["nvidia.com/gpu"]`,
		"spec.kubeletConfiguration.imageGCHighThresholdPercent":       "kubelet_configuration[0].image_gc_high_threshold_percent",
		"spec.kubeletConfiguration.clusterDNS":                        "kubelet_configuration[0].cluster_dns",
		"spec.kubeletConfiguration.cpuCFSQuota":                       "kubelet_configuration[0].cpu_cfs_quota",
		"spec.startupTaints[1].effect":                                "startup_taint[1].effect",
		"spec.ttlSecondsAfterEmpty":                                   "ttl_seconds_after_empty",
		"spec.kubeletConfiguration.evictionSoftGracePeriod":           "kubelet_configuration[0].eviction_soft_grace_period",
		"spec.consolidation.enabled":                                  "consolidation[0].enabled",
		"spec.kubeletConfiguration.evictionHard[memory.available]":    `kubelet_configuration[0].eviction_hard["memory.available"]`,
		"spec.terminationGracePeriod":                                 "termination_grace_period",
		"spec.requirements[3].values[0]":                              "requirement[3].values[0]",
		"spec.kubeletConfiguration.evictionMaxPodGracePeriod":         "kubelet_configuration[0].eviction_max_pod_grace_period",
		"spec.kubeletConfiguration.imageGCLowThresholdPercent":        "kubelet_configuration[0].image_gc_low_threshold_percent",
		"spec.provider.securityGroupSelector[karpenter.sh/discovery]": `aws[0].security_group_selector["karpenter.sh/discovery"]`,
		"spec.provider.blockDeviceMappings[1].ebs.iops":               "aws[0].block_device_mappings[1].ebs.iops",
		"spec.provider.metadataOptions.httpProtocolIPv6":              "aws[0].metadata_options.http_protocol_ipv6",
		"spec.provider.userData":                                      "aws[0].user_data",
		"spec.providerRef.name":                                       "provider_ref.name",
	} {
		got, ok := attributePathOf(field)
		if !ok || got.String() != want {
			t.Errorf("attributePathOf(%s) = %s, %v; want %s", field, got, ok, want)
		}
	}
	for _, bad := range []string{"metadata.name", "spec", "", "spec.labels[unclosed"} {
		if _, ok := attributePathOf(bad); ok {
			t.Errorf("attributePathOf(%q) should not translate", bad)
		}
	}
}

// An Invalid error of the API server is reported at the attributes its causes name.
func TestAPIErrorDiagnostics(t *testing.T) {
	err := apierrors.NewInvalid(schema.GroupKind{Group: "karpenter.sh", Kind: "Provisioner"}, "x", field.ErrorList{
		field.Invalid(field.NewPath("spec", "requirements").Index(2).Child("key"), "node-role.kubernetes.io/x", "restricted label domain"),
		field.Invalid(field.NewPath("metadata", "name"), "X", "must be lowercase"),
	})
	diags := apiErrorDiagnostics("Cannot create Provisioner", err)
	if len(diags) != 2 {
		t.Fatalf("diagnostics = %v", diags)
	}
	if d, ok := diags[0].(diag.DiagnosticWithPath); !ok || d.Path().String() != "requirement[2].key" || !strings.Contains(d.Detail(), "restricted label domain") {
		t.Errorf("first diagnostic = %v, want it at requirement[2].key", diags[0])
	}
	if _, ok := diags[1].(diag.DiagnosticWithPath); ok || !strings.Contains(diags[1].Detail(), "metadata.name") {
		t.Errorf("second diagnostic = %v, want one without a path naming metadata.name", diags[1])
	}
	plain := apiErrorDiagnostics("Cannot create Provisioner", fmt.Errorf("connection refused"))
	if len(plain) != 1 || plain[0].Detail() != "connection refused" {
		t.Errorf("plain error diagnostics = %v", plain)
	}
}
