package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestAccControllerWebhook installs karpenter_controller and runs the whole Provisioner corpus
// through the API server (server-side dry run, as kubectl apply --dry-run=server) with the
// controller's validating webhook in place: the API server now refuses the plan-only cases
// (user data the CRD cannot parse) at the same field as terraform plan, and still agrees with
// plan on every other case. Faults: the certificate Secret deleted and the caBundle emptied out
// of band (the controller issues a new certificate and writes its CA back; the plan stays
// empty: the caBundle is the controller's). Destroy removes the configuration, the Service and
// the Secret. A Secret of the certificate's name that this provider did not apply is refused
// and left as it was.
func TestAccControllerWebhook(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	removeNamespaceAtEnd(t, kc, "karpenter") // the first step creates it: adopted, so destroy keeps it
	dyn := dynamic.NewForConfigOrDie(sb.RESTConfig())
	cfg := `resource "karpenter_controller" "test" {
  cluster_name             = "` + sb.ClusterName + `"
  default_instance_profile = "acc-webhook"
}
`
	cases := loadCorpus(t)
	var probe corpusCase
	for _, c := range cases {
		if c.planOnly {
			probe = c
			break
		}
	}
	vwcKey := client.ObjectKey{Name: webhookConfigurationName("karpenter")}
	secretKey := client.ObjectKey{Namespace: "karpenter", Name: webhookCertSecret}
	var firstCert []byte
	// webhookServes waits until the webhook refuses the probe case and the caBundle is the
	// Secret's CA (up to 2 minutes: the replicas start, issue the certificate and write it).
	webhookServes := func(*terraform.State) error {
		return wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(context.Context) (bool, error) {
			fields, err := apiVerdict(t, dyn, probe.obj)
			if err != nil || len(fields) == 0 {
				return false, nil //nolint:nilerr // not serving yet: failurePolicy Ignore admits
			}
			var vwc admissionregistrationv1.ValidatingWebhookConfiguration
			var sec corev1.Secret
			if kc.Get(ctx, vwcKey, &vwc) != nil || kc.Get(ctx, secretKey, &sec) != nil {
				return false, nil
			}
			return bytes.Equal(vwc.Webhooks[0].ClientConfig.CABundle, sec.Data["ca.crt"]), nil
		})
	}
	wholeCorpus := func(*terraform.State) error {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				fields, err := apiVerdict(t, dyn, c.obj)
				if err != nil {
					t.Fatalf("API server: %v", err)
				}
				c.planOnly = false // the webhook refuses these too: as any invalid case
				checkCorpusCase(t, c, "API server with the webhook", fields, planVerdict(t, c.obj))
			})
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			foreignSecretStep(t, kc, cfg, secretKey, "theirs", true),
			{
				PreConfig: func() { deleteForeignSecret(t, kc, secretKey, "theirs") },
				Config:    cfg, Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("karpenter_controller.test", "missing_objects.#", "0"),
					webhookServes, wholeCorpus,
					func(*terraform.State) error {
						var sec corev1.Secret
						if err := kc.Get(ctx, secretKey, &sec); err != nil {
							return err
						}
						firstCert = sec.Data["tls.crt"]
						return nil
					})},
			// Ours deleted and someone else's created in its place: the update refuses it too.
			foreignSecretStep(t, kc, cfg, secretKey, "theirs-later", false),
			{ // the Secret deleted and the caBundle emptied out of band: the controller repairs both
				PreConfig: func() {
					deleteForeignSecret(t, kc, secretKey, "theirs-later")
					var vwc admissionregistrationv1.ValidatingWebhookConfiguration
					must(t, kc.Get(ctx, vwcKey, &vwc))
					vwc.Webhooks[0].ClientConfig.CABundle = nil
					must(t, kc.Update(ctx, &vwc))
				},
				Config: cfg,
				Check: resource.ComposeAggregateTestCheckFunc(webhookServes, func(*terraform.State) error {
					var sec corev1.Secret
					if err := kc.Get(ctx, secretKey, &sec); err != nil {
						return err
					}
					if bytes.Equal(sec.Data["tls.crt"], firstCert) {
						return errors.New("the certificate was not issued again")
					}
					return nil
				}),
			},
		},
		CheckDestroy: webhookObjectsGone(kc, vwcKey, secretKey),
	})
}

func keyMeta(k client.ObjectKey) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}
}

// webhookObjectsGone checks that the webhook configuration, the Service and the certificate
// Secret of the installation in namespace karpenter are gone.
func webhookObjectsGone(kc client.Client, vwcKey, secretKey client.ObjectKey) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, obj := range []client.Object{&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: keyMeta(vwcKey)},
			&corev1.Service{ObjectMeta: keyMeta(client.ObjectKey{Namespace: "karpenter", Name: webhookServiceName})},
			&corev1.Secret{ObjectMeta: keyMeta(secretKey)}} {
			if err := kc.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%T %s left after destroy (%v)", obj, obj.GetName(), err)
			}
		}
		return nil
	}
}

// foreignSecretStep creates, before an apply of cfg, a Secret at key that this provider did
// not apply (data tls.crt=marker; in a namespace it creates first when newNamespace, or in
// place of the installation's, deleted first); the apply must refuse it.
func foreignSecretStep(t *testing.T, kc client.Client, cfg string, key client.ObjectKey, marker string, newNamespace bool) resource.TestStep {
	return resource.TestStep{
		PreConfig: func() {
			if newNamespace {
				must(t, kc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: key.Namespace}}))
			} else {
				must(t, kc.Delete(ctx, &corev1.Secret{ObjectMeta: keyMeta(key)}))
				must(t, waitGone(ctx, kc, &corev1.Secret{ObjectMeta: keyMeta(key)}))
			}
			must(t, kc.Create(ctx, &corev1.Secret{ObjectMeta: keyMeta(key), Data: map[string][]byte{"tls.crt": []byte(marker)}}))
		},
		Config: cfg, ExpectError: regexp.MustCompile(`not managed by this provider`),
	}
}

// deleteForeignSecret checks that the Secret at key still holds only tls.crt=marker (neither
// the apply nor the controller wrote into it) and deletes it.
func deleteForeignSecret(t *testing.T, kc client.Client, key client.ObjectKey, marker string) {
	var sec corev1.Secret
	must(t, kc.Get(ctx, key, &sec))
	if len(sec.Data) != 1 || string(sec.Data["tls.crt"]) != marker {
		t.Errorf("the foreign Secret was changed: %v", sec.Data)
	}
	must(t, kc.Delete(ctx, &sec))
	must(t, waitGone(ctx, kc, &sec))
}

// removeNamespaceAtEnd deletes namespace name when the test ends and waits until it is gone, so
// that the tests after it in the shared sandbox do not find it (they would adopt it).
func removeNamespaceAtEnd(t *testing.T, kc client.Client, name string) {
	t.Cleanup(func() {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := kc.Delete(ctx, ns); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting namespace %s: %v", name, err)
			return
		}
		if err := waitGone(ctx, kc, ns); err != nil {
			t.Errorf("namespace %s not gone: %v", name, err)
		}
	})
}
