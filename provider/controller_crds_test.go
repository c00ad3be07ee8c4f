package provider

import (
	"fmt"
	"os"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
	"github.com/nodeform/terraform-provider-karpenter/version"
)

const (
	provisionerCRDName = "provisioners.karpenter.sh"
	nodeClaimCRDName   = "nodeclaims.karpenter.sh"
	// specProps is the JSON pointer of a CRD's spec properties in its only version's schema.
	specProps = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties"
)

// olderProvisionerCRD is the Provisioner CRD as an earlier provider version shipped it: without
// spec.terminationGracePeriod.
func olderProvisionerCRD(t *testing.T) []byte {
	t.Helper()
	var crd apiextensionsv1.CustomResourceDefinition
	must(t, yaml.UnmarshalStrict(crds.Provisioner, &crd))
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	if _, ok := spec.Properties["terminationGracePeriod"]; !ok {
		t.Fatal("the embedded Provisioner CRD has no spec.terminationGracePeriod: pick another property for the older shape")
	}
	delete(spec.Properties, "terminationGracePeriod")
	crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"] = spec
	out, err := yaml.Marshal(&crd)
	must(t, err)
	return out
}

// crdSpecProperty checks whether the live CRD crdName's schema has spec property prop.
func crdSpecProperty(kc client.Client, crdName, prop string, want bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := kc.Get(ctx, client.ObjectKey{Name: crdName}, &crd); err != nil {
			return err
		}
		_, got := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties[prop]
		if got != want {
			return fmt.Errorf("CRD %s: spec property %s present = %v, want %v", crdName, prop, got, want)
		}
		if len(crd.Spec.Names.ShortNames) > 0 {
			return fmt.Errorf("CRD %s has the short names %v added outside Terraform", crdName, crd.Spec.Names.ShortNames)
		}
		return nil
	}
}

// controllerImage checks the image of the controller Deployment in namespace karpenter.
func controllerImage(kc client.Client, want func() string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var d appsv1.Deployment
		if err := kc.Get(ctx, client.ObjectKey{Namespace: "karpenter", Name: deploymentName}, &d); err != nil {
			return err
		}
		if got := d.Spec.Template.Spec.Containers[0].Image; got != want() {
			return fmt.Errorf("controller image %s, want %s", got, want())
		}
		return nil
	}
}

// TestCRDDigestOfDefaultedSpec: the planned digests are those of the embedded CRDs after the
// API server's defaulting, and a changed schema changes the digest.
func TestCRDDigestOfDefaultedSpec(t *testing.T) {
	want, err := desiredCRDDigests()
	must(t, err)
	if n := len(want.Elements()); n != 2 {
		t.Fatalf("crd_digests has %d entries, want 2: %v", n, want)
	}
	all, err := controllerCRDs()
	must(t, err)
	for _, crd := range all {
		if crd.Spec.Conversion != nil {
			t.Fatalf("embedded CRD %s sets conversion: the defaulting test below needs another default", crd.Name)
		}
		raw, err := crdDigest(crd.Spec)
		must(t, err)
		if want.Elements()[crd.Name].Equal(types.StringValue(raw)) {
			t.Errorf("%s: planned digest %s ignores the API server's defaults (conversion strategy None)", crd.Name, raw)
		}
	}
	saved := crdManifests[0].yaml
	t.Cleanup(func() { crdManifests[0].yaml = saved })
	crdManifests[0].yaml = olderProvisionerCRD(t)
	older, err := desiredCRDDigests()
	must(t, err)
	if older.Elements()[provisionerCRDName].Equal(want.Elements()[provisionerCRDName]) ||
		!older.Elements()[nodeClaimCRDName].Equal(want.Elements()[nodeClaimCRDName]) {
		t.Errorf("digests of the older Provisioner CRD: %v, current %v; want only %s to differ", older, want, provisionerCRDName)
	}
}

// TestAccControllerCRDUpgrade: karpenter_controller tracks the CRDs' content. A provider
// upgrade whose embedded Provisioner CRD gained a property (simulated by installing with the
// older CRD and version, then planning with the current ones) plans an update of crd_digests
// (and of image when it is not pinned) and nothing else; applying upgrades the CRD in place:
// the existing Provisioner keeps its UID and spec, and a pinned image is left alone. A CRD
// changed outside Terraform (a property removed; a property and short names added, which
// server-side apply alone would keep) plans an update that restores it; every apply settles to
// an empty plan.
func TestAccControllerCRDUpgrade(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	const ctrl = "karpenter_controller.test"
	// A pinned image the sandbox can run: the controller image of KARPENTER_BIN in a loopback
	// registry, which the sandbox pulls and whose entrypoint it runs (sandbox/pods/pull.go).
	pinned := sandboxtest.LoopbackImage(t, "nodeform/karpenter-controller:v0.0.9-pinned")
	older := olderProvisionerCRD(t)
	current, currentVersion := crdManifests[0].yaml, version.Version
	t.Cleanup(func() { crdManifests[0].yaml, version.Version = current, currentVersion })
	oldProvider := func() { crdManifests[0].yaml, version.Version = older, "v0.0.9" }
	newProvider := func() { crdManifests[0].yaml, version.Version = current, currentVersion }
	cfg := func(image string) string {
		if image != "" {
			image = `image = "` + image + `"`
		}
		return `resource "karpenter_controller" "test" {
  cluster_name             = "` + sb.ClusterName + `"
  default_instance_profile = "acc-crds"
  ` + image + `
}

resource "karpenter_provisioner" "keep" {
  name   = "crd-upgrade-keep"
  weight = 7
  requirement {
    key      = "karpenter.sh/capacity-type"
    operator = "In"
    values   = ["spot"]
  }
  depends_on = [karpenter_controller.test]
}
`
	}
	var uid k8stypes.UID
	keepProvisioner := func(*terraform.State) error {
		var p v1alpha5.Provisioner
		if err := kc.Get(ctx, client.ObjectKey{Name: "crd-upgrade-keep"}, &p); err != nil {
			return fmt.Errorf("Provisioner crd-upgrade-keep: %w", err)
		}
		if uid == "" {
			uid = p.UID
		}
		if p.UID != uid || p.DeletionTimestamp != nil || p.Spec.Weight == nil || *p.Spec.Weight != 7 {
			return fmt.Errorf("Provisioner crd-upgrade-keep replaced or changed: uid %s (was %s), deleting %v, weight %v", p.UID, uid, p.DeletionTimestamp, p.Spec.Weight)
		}
		return nil
	}
	patchCRD := func(name, patch string) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		crd.Name = name
		must(t, kc.Patch(ctx, crd, client.RawPatch(k8stypes.JSONPatchType, []byte(patch))))
	}
	updates := func(attrs ...string) resource.ConfigPlanChecks {
		return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{driftPlanCheck{want: map[string][]string{ctrl: attrs}}}}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{ // an earlier provider version installs its CRDs, with a pinned image
				PreConfig: oldProvider, Config: cfg(pinned),
				Check: resource.ComposeAggregateTestCheckFunc(crdSpecProperty(kc, provisionerCRDName, "terminationGracePeriod", false), keepProvisioner),
			},
			{ // upgraded provider, pinned image: only the CRD digest changes; the CRD is upgraded in place
				PreConfig: newProvider, Config: cfg(pinned), ConfigPlanChecks: updates("crd_digests"),
				Check: resource.ComposeAggregateTestCheckFunc(crdSpecProperty(kc, provisionerCRDName, "terminationGracePeriod", true), keepProvisioner,
					controllerImage(kc, func() string { return pinned })),
			},
			{ // back to the earlier version with its default image
				PreConfig: oldProvider, Config: cfg(""),
				Check: resource.ComposeAggregateTestCheckFunc(crdSpecProperty(kc, provisionerCRDName, "terminationGracePeriod", false), keepProvisioner,
					controllerImage(kc, version.ControllerImage)),
			},
			{ // upgraded provider, default image: the CRD digest and the image change
				PreConfig: newProvider, Config: cfg(""), ConfigPlanChecks: updates("crd_digests", "image"),
				Check: resource.ComposeAggregateTestCheckFunc(crdSpecProperty(kc, provisionerCRDName, "terminationGracePeriod", true), keepProvisioner,
					controllerImage(kc, version.ControllerImage)),
			},
			{ // a property removed from the Provisioner CRD outside Terraform
				PreConfig: func() {
					patchCRD(provisionerCRDName, `[{"op":"remove","path":"`+specProps+`/ttlSecondsUntilExpired"}]`)
				},
				Config: cfg(""), ConfigPlanChecks: updates("crd_digests"),
				Check: resource.ComposeAggregateTestCheckFunc(crdSpecProperty(kc, provisionerCRDName, "ttlSecondsUntilExpired", true), keepProvisioner),
			},
			{ // a property and short names added to the NodeClaim CRD outside Terraform (server-side apply alone keeps the short names)
				PreConfig: func() {
					patchCRD(nodeClaimCRDName, `[{"op":"add","path":"`+specProps+`/extra","value":{"type":"string"}},`+
						`{"op":"add","path":"/spec/names/shortNames","value":["ncx"]}]`)
				},
				Config: cfg(""), ConfigPlanChecks: updates("crd_digests"),
				Check: resource.ComposeAggregateTestCheckFunc(crdSpecProperty(kc, nodeClaimCRDName, "extra", false), keepProvisioner)},
		},
	})
}
