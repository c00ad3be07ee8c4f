package sandbox_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/sandbox"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
	"github.com/nodeform/terraform-provider-karpenter/version"
)

// denyMessage is what the test webhook answers every admission request with.
const denyMessage = "denied by the sandbox test webhook"

// webhookHelper runs inside a "controller pod": a validating webhook denying everything, served
// over HTTPS on BIND_ADDRESS:WEBHOOK_PORT with a self-signed certificate for
// $SANDBOX_TEST_WEBHOOK_DNS, which it writes to $SANDBOX_TEST_WEBHOOK_CA once it listens. It
// runs until SIGTERM.
func webhookHelper() int {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	cert, certPEM, err := selfSignedCert(os.Getenv("SANDBOX_TEST_WEBHOOK_DNS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("BIND_ADDRESS"), os.Getenv("WEBHOOK_PORT")))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	srv := &http.Server{Handler: http.HandlerFunc(denyAll), ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	out := os.Getenv("SANDBOX_TEST_WEBHOOK_CA")
	if err := os.WriteFile(out+".tmp", certPEM, 0o644); err != nil {
		return 2
	}
	_ = os.Rename(out+".tmp", out)
	<-term
	_ = srv.Close()
	return 0
}

// denyAll answers an AdmissionReview with a denial.
func denyAll(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
		return
	}
	review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: false,
		Result: &metav1.Status{Code: http.StatusForbidden, Message: denyMessage}}
	review.Request = nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
}

// selfSignedCert makes a self-signed serving certificate for dnsName.
func selfSignedCert(dnsName string) (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// startWebhookPod creates Service "webhook" (port 443 to the container port named
// https-webhook, as Terraform's karpenter Service) and a pod behind it on the static node,
// whose process is webhookHelper writing its CA to caFile. It returns the Service's ClusterIP.
func startWebhookPod(t *testing.T, cs kubernetes.Interface, ns, caFile string) string {
	t.Helper()
	ctx := context.Background()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sandbox.LabelNodeGroup + "=" + sandbox.StaticNodeGroup})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("no static node: %v", err)
	}
	labels := map[string]string{"app": "webhook"}
	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "webhook"},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{
			{Name: "https-webhook", Port: 443, TargetPort: intstr.FromString("https-webhook")}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook-0", Labels: labels},
		Spec: corev1.PodSpec{NodeName: nodes.Items[0].Name, Containers: []corev1.Container{{
			Name: "controller", Image: version.ControllerImage(),
			Ports: []corev1.ContainerPort{{Name: "http-metrics", ContainerPort: 8080}, {Name: "https-webhook", ContainerPort: 8443}},
			Env: []corev1.EnvVar{{Name: helperEnv, Value: "webhook"}, {Name: "SANDBOX_TEST_WEBHOOK_CA", Value: caFile},
				{Name: "SANDBOX_TEST_WEBHOOK_DNS", Value: "webhook." + ns + ".svc"}},
		}}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return svc.Spec.ClusterIP
}

// registerDenyWebhook registers the Service webhook in ns as a validating webhook for creating
// ConfigMaps labelled sandbox-test/deny=true (failure policy Fail) until the test ends.
func registerDenyWebhook(t *testing.T, cs kubernetes.Interface, ns string, caPEM []byte) {
	t.Helper()
	ctx := context.Background()
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "sandbox-test-deny"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "deny.sandbox.test",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{CABundle: caPEM,
				Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: "webhook", Port: ptr.To[int32](443)}},
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{"sandbox-test/deny": "true"}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr.To[int32](5),
		}},
	}
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), vwc.Name, metav1.DeleteOptions{})
	})
}

// The API server calls a Service-referenced webhook served by a controller pod's process: it
// sends CONNECT <ClusterIP>:443 through its cluster egress, which the sandbox's proxy resolves
// through the Service's EndpointSlice and the pod runner to the process's WEBHOOK_PORT. Without
// a running process the proxy answers 503 and the call fails (failure policy Fail).
func TestWebhookServiceReachesPodProcess(t *testing.T) {
	sb := sandboxtest.Start(t)
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(sb.RESTConfig())
	ns := "webhook-test"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "webhook-ca.pem")
	clusterIP := startWebhookPod(t, cs, ns, caFile)
	var caPEM []byte
	eventually(t, 60*time.Second, "webhook process serving", func() (bool, error) {
		var err error
		caPEM, err = os.ReadFile(caFile)
		return err == nil, err
	})
	registerDenyWebhook(t, cs, ns, caPEM)
	// A server-side dry run, as `kubectl apply --dry-run=server` does: webhooks without side
	// effects are called.
	create := func() error {
		_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "denied-",
			Labels: map[string]string{"sandbox-test/deny": "true"}}}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	eventually(t, 30*time.Second, "ConfigMap denied by the webhook", func() (bool, error) {
		err := create()
		return err != nil && strings.Contains(err.Error(), denyMessage), err
	})

	if err := cs.CoreV1().Pods(ns).Delete(ctx, "webhook-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 45*time.Second, "webhook call refused by the egress proxy", func() (bool, error) {
		err := create()
		return err != nil && strings.Contains(err.Error(), "while dialing "+clusterIP+":443, code 503"), err
	})
}
