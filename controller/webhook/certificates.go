package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Lifetimes of the serving certificate the controller issues itself.
const (
	// CertificateLifetime is the validity of a new serving certificate and its CA.
	CertificateLifetime = 365 * 24 * time.Hour
	// RenewBefore: a certificate with less validity left than this is replaced.
	RenewBefore = 30 * 24 * time.Hour
)

// Keys of the certificate Secret (an Opaque Secret: the installation creates it empty, and a
// Secret's type cannot change).
const (
	keyCA   = "ca.crt"
	keyCert = corev1.TLSCertKey
	keyKey  = corev1.TLSPrivateKeyKey
)

// Certificates keeps the webhook's serving certificate: a self-signed CA and a certificate for
// the Service's DNS names (ServiceDNSNames), issued by whichever replica first finds the
// Secret empty, invalid or within RenewBefore of expiry, and stored in the Secret (SecretName
// in Namespace, which the installation creates and owns: the controller may only read and
// update that one Secret, never create any) so that every replica serves the same one; and it writes the CA
// into the caBundle of every webhook of the ValidatingWebhookConfiguration Configuration, so
// that the API server trusts it. It is the controller's job rather than Terraform's, as in
// Karpenter v0.31 (knative's certificate controller): the private key never enters Terraform
// state, and a certificate is renewed without an apply.
type Certificates struct {
	Client        client.Client // uncached: Secrets and webhook configurations are read by name
	Namespace     string        // the controller's namespace (the Service's and the Secret's)
	Service       string        // the Service in front of the webhook
	SecretName    string
	Configuration string        // the ValidatingWebhookConfiguration whose caBundle is kept
	Interval      time.Duration // how often the Secret and the caBundle are checked (default 1 minute)

	current atomic.Pointer[tls.Certificate]
}

// CertificateSecretAnnotation marks the Secret the installation made for the controller's
// certificate (value: the webhook Service's name). The controller writes only into a Secret
// carrying it, so that a Secret of the same name that someone else put there (a Helm install's,
// one re-created out of band) is never overwritten.
const CertificateSecretAnnotation = "terraform-provider-karpenter/webhook-certificate"

// fieldOwner is the field manager of the controller's writes (the certificate data and the
// caBundle), distinct from the installation's.
const fieldOwner = "karpenter-controller"

// ServiceDNSNames are the names the API server may use for Service svc in namespace ns: it
// dials <svc>.<ns>.svc (https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#service-reference).
func ServiceDNSNames(svc, ns string) []string {
	return []string{svc + "." + ns + ".svc", svc + "." + ns + ".svc.cluster.local", svc + "." + ns, svc}
}

// GetCertificate serves the current certificate (tls.Config.GetCertificate). Errors: none
// loaded yet.
func (c *Certificates) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cert := c.current.Load(); cert != nil {
		return cert, nil
	}
	return nil, errors.New("webhook: the serving certificate is not loaded yet")
}

// NeedLeaderElection is false: every replica serves the webhook.
func (c *Certificates) NeedLeaderElection() bool { return false }

// Start checks the certificate and the caBundle at once and every Interval until ctx ends; a
// failed check is logged and retried after 5 seconds, then 10, 20, ... up to Interval while it keeps
// failing. It returns nil when ctx ends.
func (c *Certificates) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("webhook-certificates")
	interval := c.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	failures := 0
	for {
		next := interval
		if err := c.Reconcile(ctx); err != nil {
			// Retried after 5 s, doubling up to the interval while it keeps failing (a foreign
			// Secret of that name stays until someone removes it).
			failures++
			next = min(interval, 5*time.Second<<min(failures-1, 10))
			logger.Error(err, "keeping the webhook certificate", "secret", c.Namespace+"/"+c.SecretName, "configuration", c.Configuration, "retryIn", next.String())
		} else {
			failures = 0
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(next):
		}
	}
}

// Reconcile makes the Secret hold a usable certificate, loads it, and writes its CA into the
// webhook configuration. Errors: Kubernetes API calls, a Secret that cannot be parsed after it
// was written.
func (c *Certificates) Reconcile(ctx context.Context) error {
	ca, err := c.ensureSecret(ctx)
	if err != nil {
		return err
	}
	return c.ensureCABundle(ctx, ca)
}

// ensureSecret returns the CA of the Secret's certificate, issuing one first when the Secret is
// empty or its certificate unusable. Two replicas racing both issue one; the API server keeps
// one (resourceVersion conflict) and the loser reads it back. Errors: the Secret is missing
// (the installation creates it) or cannot be read or written.
func (c *Certificates) ensureSecret(ctx context.Context) ([]byte, error) {
	var ca []byte
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Steps: 5}, func(ctx context.Context) (bool, error) {
		var s corev1.Secret
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.SecretName}, &s); err != nil {
			if apierrors.IsNotFound(err) {
				return false, fmt.Errorf("webhook Secret %s/%s does not exist: the installation (karpenter_controller) creates it for the controller to fill", c.Namespace, c.SecretName)
			}
			return false, fmt.Errorf("reading Secret %s/%s: %w", c.Namespace, c.SecretName, err)
		}
		if s.Annotations[CertificateSecretAnnotation] != c.Service {
			return false, fmt.Errorf("webhook Secret %s/%s lacks the annotation %s=%s that marks it as the installation's: not written (someone else's Secret of that name?)",
				c.Namespace, c.SecretName, CertificateSecretAnnotation, c.Service)
		}
		cert, reason := c.usable(&s)
		if reason == "" {
			c.current.Store(cert)
			ca = s.Data[keyCA]
			return true, nil
		}
		if len(s.Data) > 0 {
			log.FromContext(ctx).Info("issuing a new webhook certificate", "reason", reason)
		}
		data, err := c.issue()
		if err != nil {
			return false, err
		}
		s.Data = data
		err = c.Client.Update(ctx, &s, client.FieldOwner(fieldOwner))
		if apierrors.IsConflict(err) {
			return false, nil // another replica wrote it first: read theirs
		}
		if err != nil {
			return false, fmt.Errorf("writing Secret %s/%s: %w", c.Namespace, c.SecretName, err)
		}
		return false, nil // read back what was stored
	})
	return ca, err
}

// usable parses the Secret's certificate; reason says why it cannot be served ("" when it can):
// missing keys, unparsable, not for the Service's names, or within RenewBefore of expiry.
func (c *Certificates) usable(s *corev1.Secret) (*tls.Certificate, string) {
	if len(s.Data[keyCA]) == 0 || len(s.Data[keyCert]) == 0 || len(s.Data[keyKey]) == 0 {
		return nil, "the Secret lacks " + keyCA + ", " + keyCert + " or " + keyKey
	}
	cert, err := tls.X509KeyPair(s.Data[keyCert], s.Data[keyKey])
	if err != nil {
		return nil, "the key pair does not parse: " + err.Error()
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, "the certificate does not parse: " + err.Error()
	}
	if time.Until(leaf.NotAfter) < RenewBefore {
		return nil, fmt.Sprintf("the certificate expires at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if name := ServiceDNSNames(c.Service, c.Namespace)[0]; leaf.VerifyHostname(name) != nil {
		return nil, "the certificate is not for " + name
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(s.Data[keyCA]) {
		return nil, keyCA + " holds no certificate"
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: time.Now()}); err != nil {
		return nil, keyCA + " does not verify the certificate: " + err.Error()
	}
	return &cert, ""
}

// issue makes a CA and a serving certificate for the Service's DNS names, valid for
// CertificateLifetime (client-go's certutil: the certificate PEM is the serving certificate
// followed by its CA).
func (c *Certificates) issue() (map[string][]byte, error) {
	names := ServiceDNSNames(c.Service, c.Namespace)
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKeyWithOptions(certutil.SelfSignedCertKeyOptions{
		Host: names[0], AlternateDNS: names[1:], MaxAge: CertificateLifetime})
	if err != nil {
		return nil, fmt.Errorf("issuing the webhook certificate: %w", err)
	}
	var blocks [][]byte
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, pem.EncodeToMemory(b))
	}
	if len(blocks) != 2 {
		return nil, fmt.Errorf("issuing the webhook certificate: want a certificate and its CA, got %d PEM blocks", len(blocks))
	}
	return map[string][]byte{keyCA: blocks[1], keyCert: certPEM, keyKey: keyPEM}, nil
}

// ensureCABundle writes ca into every webhook of the configuration whose caBundle differs.
// Errors: the configuration is missing (Terraform creates it with the controller) or the
// update failed.
func (c *Certificates) ensureCABundle(ctx context.Context, ca []byte) error {
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Client.Get(ctx, client.ObjectKey{Name: c.Configuration}, &vwc); err != nil {
		return fmt.Errorf("reading ValidatingWebhookConfiguration %s: %w", c.Configuration, err)
	}
	changed := false
	for i := range vwc.Webhooks {
		if !bytes.Equal(vwc.Webhooks[i].ClientConfig.CABundle, ca) {
			vwc.Webhooks[i].ClientConfig.CABundle = slices.Clone(ca)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := c.Client.Update(ctx, &vwc, client.FieldOwner(fieldOwner)); err != nil {
		return fmt.Errorf("writing the caBundle of ValidatingWebhookConfiguration %s: %w", c.Configuration, err)
	}
	log.FromContext(ctx).Info("wrote the webhook CA", "configuration", c.Configuration)
	return nil
}
