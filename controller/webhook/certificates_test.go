package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func certsFixture(t *testing.T) (client.Client, func() *Certificates) {
	t.Helper()
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "karpenter-ns"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: ProvisionerWebhookName}}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "karpenter-cert", // as the installation creates it
		Annotations: map[string]string{CertificateSecretAnnotation: "karpenter"}}}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(vwc, secret).Build()
	return c, func() *Certificates {
		return &Certificates{Client: c, Namespace: "ns", Service: "karpenter", SecretName: "karpenter-cert", Configuration: "karpenter-ns"}
	}
}

func secretAndBundle(t *testing.T, c client.Client) (*corev1.Secret, []byte) {
	t.Helper()
	var s corev1.Secret
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "karpenter-cert"}, &s); err != nil {
		t.Fatal(err)
	}
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Get(context.Background(), client.ObjectKey{Name: "karpenter-ns"}, &vwc); err != nil {
		t.Fatal(err)
	}
	return &s, vwc.Webhooks[0].ClientConfig.CABundle
}

// The first replica issues a certificate for the Service's DNS name into the Secret and the
// CA into the caBundle; a second replica serves the same certificate; an expiring or damaged
// one is replaced.
func TestCertificatesIssueShareAndRenew(t *testing.T) {
	ctx := context.Background()
	c, newCerts := certsFixture(t)
	first := newCerts()
	if _, err := first.GetCertificate(nil); err == nil {
		t.Fatal("a certificate before the first reconcile")
	}
	if err := first.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	sec, bundle := secretAndBundle(t, c)
	if !bytes.Equal(bundle, sec.Data[keyCA]) {
		t.Error("caBundle is not the Secret's CA")
	}
	served, err := first.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(served.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "karpenter.ns.svc"}); err != nil {
		t.Errorf("the API server would not trust the certificate for karpenter.ns.svc: %v", err)
	}

	second := newCerts()
	if err := second.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := second.GetCertificate(nil); !bytes.Equal(got.Certificate[0], served.Certificate[0]) {
		t.Error("a second replica issued its own certificate instead of serving the stored one")
	}

	// Within RenewBefore of expiry (a certificate issued for 10 days): a new one, and the
	// caBundle follows.
	names := ServiceDNSNames("karpenter", "ns")
	shortCert, shortKey, err := certutil.GenerateSelfSignedCertKeyWithOptions(certutil.SelfSignedCertKeyOptions{
		Host: names[0], AlternateDNS: names[1:], MaxAge: 10 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sec.Data[keyCert], sec.Data[keyKey], sec.Data[keyCA] = shortCert, shortKey, shortCert // the chain holds its CA
	if err := c.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	if err := second.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	renewed, bundle2 := secretAndBundle(t, c)
	if bytes.Equal(renewed.Data[keyCert], shortCert) || !bytes.Equal(bundle2, renewed.Data[keyCA]) || bytes.Equal(bundle2, bundle) {
		t.Error("an expiring certificate was not replaced, or the caBundle not updated")
	}

	// A damaged Secret is replaced too.
	renewed.Data[keyKey] = []byte("garbage")
	if err := c.Update(ctx, renewed); err != nil {
		t.Fatal(err)
	}
	if err := first.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	repaired, _ := secretAndBundle(t, c)
	if _, err := tls.X509KeyPair(repaired.Data[keyCert], repaired.Data[keyKey]); err != nil {
		t.Errorf("the damaged Secret was not repaired: %v", err)
	}
}

// Without its configuration (not installed yet) Reconcile fails with the name, after loading
// the certificate so that the server can already answer; without its Secret it fails saying
// who creates it, and creates nothing.
func TestCertificatesMissingConfiguration(t *testing.T) {
	_, newCerts := certsFixture(t)
	c := newCerts()
	c.Configuration = "absent"
	err := c.Reconcile(context.Background())
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("ValidatingWebhookConfiguration absent")) {
		t.Errorf("want an error naming the configuration, got %v", err)
	}
	if _, err := c.GetCertificate(nil); err != nil {
		t.Errorf("certificate not loaded: %v", err)
	}
	// Someone else's Secret of the name (no annotation): never written.
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "theirs"}, Data: map[string][]byte{"x": []byte("y")}}
	if err := c.Client.Create(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	c.SecretName = "theirs"
	if err := c.Reconcile(context.Background()); err == nil || !strings.Contains(err.Error(), "lacks the annotation") {
		t.Errorf("want a refusal of a foreign Secret, got %v", err)
	}
	var got corev1.Secret
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "theirs"}, &got); err != nil || len(got.Data) != 1 || string(got.Data["x"]) != "y" {
		t.Errorf("the foreign Secret was changed: %v %v", got.Data, err)
	}
	c.SecretName = "absent"
	if err := c.Reconcile(context.Background()); err == nil || !strings.Contains(err.Error(), "Secret ns/absent does not exist: the installation") {
		t.Errorf("want an error saying the Secret is missing, got %v", err)
	}
	var s corev1.Secret
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "absent"}, &s); err == nil {
		t.Error("the controller created a Secret")
	}
}
