package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

const provisionerLaunchConfig = `
resource "karpenter_provisioner" "launch" {
  name = "launch"
  aws {
    subnet_selector         = { "karpenter.sh/discovery" = "demo" }
    security_group_selector = { "karpenter.sh/discovery" = "demo" }
    ami_family              = "Bottlerocket"
    detailed_monitoring     = true
    block_device_mappings {
      device_name = "/dev/xvda"
      ebs {
        volume_size = "4Gi"
        volume_type = "gp3"
      }
    }
    block_device_mappings {
      device_name = "/dev/xvdb"
      ebs {
        volume_size           = "1.5Ti"
        volume_type           = "io2"
        iops                  = 20000
        encrypted             = true
        kms_key_id            = "alias/nodes"
        delete_on_termination = false
      }
    }
    block_device_mappings {
      device_name = "/dev/xvdc"
      ebs {
        snapshot_id = "snap-0123456789abcdef0"
      }
    }
    metadata_options {
      http_tokens                 = "required"
      http_put_response_hop_limit = 1
      http_protocol_ipv6          = "disabled"
    }
    user_data = <<-TOML
      [settings.host-containers.admin]
      enabled = true
    TOML
  }
}

resource "karpenter_provisioner" "ref" {
  name         = "ref"
  provider_ref = { name = "default", kind = "AWSNodeTemplate" }
}
`

// The aws block's launch settings and provider_ref apply, read back with an empty plan,
// import, and show drift made out of band; apply undoes it.
func TestAccProvisionerLaunchSettings(t *testing.T) {
	_, kc := startSandbox(t)
	installProvisionerCRD(t)
	const addr = "karpenter_provisioner.launch"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: provisionerLaunchConfig,
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(addr, "aws.0.block_device_mappings.1.ebs.volume_size", "1.5Ti"),
					resource.TestCheckResourceAttr(addr, "aws.0.metadata_options.http_put_response_hop_limit", "1"),
					resource.TestCheckResourceAttr("karpenter_provisioner.ref", "provider_ref.kind", "AWSNodeTemplate"),
					checkProvisioner(kc, "launch", func(p *v1alpha5.Provisioner) error {
						a := p.Spec.Provider
						switch {
						case len(a.BlockDeviceMappings) != 3 || a.BlockDeviceMappings[1].EBS.IOPS == nil || *a.BlockDeviceMappings[1].EBS.IOPS != 20000 ||
							a.BlockDeviceMappings[1].EBS.DeleteOnTermination == nil || *a.BlockDeviceMappings[1].EBS.DeleteOnTermination:
							return fmt.Errorf("blockDeviceMappings = %+v", a.BlockDeviceMappings)
						case a.MetadataOptions == nil || *a.MetadataOptions.HTTPPutResponseHopLimit != 1 || *a.MetadataOptions.HTTPTokens != "required":
							return fmt.Errorf("metadataOptions = %+v", a.MetadataOptions)
						case a.UserData == nil || *a.UserData != "[settings.host-containers.admin]\nenabled = true\n":
							return fmt.Errorf("userData = %q", ptr.Deref(a.UserData, "<nil>"))
						case a.DetailedMonitoring == nil || !*a.DetailedMonitoring:
							return fmt.Errorf("detailedMonitoring = %v", a.DetailedMonitoring)
						}
						return nil
					}),
					checkProvisioner(kc, "ref", func(p *v1alpha5.Provisioner) error {
						if r := p.Spec.ProviderRef; r == nil || r.Name != "default" || r.Kind != "AWSNodeTemplate" || r.APIVersion != "" {
							return fmt.Errorf("providerRef = %+v", r)
						}
						return nil
					}),
				),
			},
			{ResourceName: addr, ImportState: true, ImportStateId: "launch", ImportStateVerify: true},
			{ResourceName: "karpenter_provisioner.ref", ImportState: true, ImportStateId: "ref", ImportStateVerify: true},
			{
				// Out of band: a bigger volume, a hop limit, no monitoring, a new user data and a
				// providerRef's API version; plan shows it.
				PreConfig: func() {
					var p v1alpha5.Provisioner
					must(t, kc.Get(ctx, types.NamespacedName{Name: "launch"}, &p))
					size := v1alpha5.VolumeSize("2Ti")
					p.Spec.Provider.BlockDeviceMappings[1].EBS.VolumeSize = &size
					p.Spec.Provider.MetadataOptions.HTTPPutResponseHopLimit = ptr.To[int64](2)
					p.Spec.Provider.DetailedMonitoring = nil
					p.Spec.Provider.UserData = ptr.To("[settings.kubernetes]\nmax-pods = 5\n")
					must(t, kc.Update(ctx, &p))
					var r v1alpha5.Provisioner
					must(t, kc.Get(ctx, types.NamespacedName{Name: "ref"}, &r))
					r.Spec.ProviderRef.APIVersion = "karpenter.k8s.aws/v1alpha1"
					must(t, kc.Update(ctx, &r))
				},
				Config: provisionerLaunchConfig, PlanOnly: true, ExpectNonEmptyPlan: true,
			},
			{
				Config: provisionerLaunchConfig,
				Check: resource.ComposeTestCheckFunc(
					checkProvisioner(kc, "launch", func(p *v1alpha5.Provisioner) error {
						a := p.Spec.Provider
						if *a.BlockDeviceMappings[1].EBS.VolumeSize != "1.5Ti" || *a.MetadataOptions.HTTPPutResponseHopLimit != 1 || a.DetailedMonitoring == nil ||
							*a.UserData != "[settings.host-containers.admin]\nenabled = true\n" {
							return fmt.Errorf("drift not undone: %+v", a)
						}
						return nil
					}),
					checkProvisioner(kc, "ref", func(p *v1alpha5.Provisioner) error {
						if p.Spec.ProviderRef.APIVersion != "" {
							return fmt.Errorf("providerRef drift not undone: %+v", p.Spec.ProviderRef)
						}
						return nil
					}),
				),
			},
			// Removing the launch settings from the configuration removes them from the Provisioner.
			{
				Config: `
resource "karpenter_provisioner" "launch" {
  name = "launch"
  aws {
    subnet_selector         = { "karpenter.sh/discovery" = "demo" }
    security_group_selector = { "karpenter.sh/discovery" = "demo" }
  }
}
`,
				Check: checkProvisioner(kc, "launch", func(p *v1alpha5.Provisioner) error {
					a := p.Spec.Provider
					if len(a.BlockDeviceMappings) != 0 || a.MetadataOptions != nil || a.UserData != nil || a.DetailedMonitoring != nil || a.AMIFamily != nil {
						return fmt.Errorf("launch settings left behind: %+v", a)
					}
					return nil
				}),
			},
		},
	})
}

func checkProvisioner(kc client.Client, name string, f func(*v1alpha5.Provisioner) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var p v1alpha5.Provisioner
		if err := kc.Get(ctx, types.NamespacedName{Name: name}, &p); err != nil {
			return err
		}
		return f(&p)
	}
}
