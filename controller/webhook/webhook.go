// Package webhook serves the controller's validating admission webhook for Provisioners: the
// checks of v1alpha5's Validate that the CRD's OpenAPI schema and CEL rules cannot express
// within the API server's cost budget (the format of spec.provider.userData for its AMI
// family: Bottlerocket TOML whose settings tables the controller writes into, a MIME multipart
// document with its boundary for AL2 and Ubuntu). With it, `kubectl apply --dry-run=server`
// refuses what `terraform plan` refuses. Karpenter v0.31 served its Provisioner validation
// the same way (https://karpenter.sh/v0.31/upgrading/upgrade-guide/, webhooks).
//
// The API server calls the webhook only for objects that passed the CRD's own validation, so
// every error it returns is one the CRD cannot give. An update that leaves spec unchanged
// (metadata, finalizers) is always admitted, so that an object stored while the webhook was
// unreachable can still be labelled and deleted.
package webhook

import (
	"context"
	"net/http"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Names shared with the installation (the provider's karpenter_controller writes the
// ValidatingWebhookConfiguration and the Service).
const (
	// ProvisionerPath is the URL path of the Provisioner validation.
	ProvisionerPath = "/validate-karpenter-sh-v1alpha5-provisioner"
	// ProvisionerWebhookName is the webhook's name in the ValidatingWebhookConfiguration.
	ProvisionerWebhookName = "validation.webhook.provisioners.karpenter.sh"
	// DefaultPort is the container port the webhook listens on (as Karpenter's chart: 8443).
	DefaultPort = 8443
)

// ProvisionerValidator is the admission handler of ProvisionerPath.
type ProvisionerValidator struct {
	Decoder admission.Decoder
}

// NewProvisionerValidator returns the handler, decoding with scheme (which must hold
// v1alpha5).
func NewProvisionerValidator(scheme *runtime.Scheme) *admission.Webhook {
	return &admission.Webhook{Handler: &ProvisionerValidator{Decoder: admission.NewDecoder(scheme)}}
}

// Handle admits a Provisioner CREATE or UPDATE when v1alpha5's Validate finds nothing, or when
// an UPDATE leaves spec as it was; otherwise it refuses with a 422 Invalid status whose causes
// carry each field path (spec.provider.userData) and reason, as the API server's own
// validation does.
func (v *ProvisionerValidator) Handle(_ context.Context, req admission.Request) admission.Response {
	var p v1alpha5.Provisioner
	if err := v.Decoder.Decode(req, &p); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		var old v1alpha5.Provisioner
		if err := v.Decoder.DecodeRaw(req.OldObject, &old); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		if equality.Semantic.DeepEqual(old.Spec, p.Spec) {
			return admission.Allowed("")
		}
	}
	errs := p.Spec.Validate(field.NewPath("spec"))
	if len(errs) == 0 {
		return admission.Allowed("")
	}
	status := apierrors.NewInvalid(v1alpha5.SchemeGroupVersion.WithKind("Provisioner").GroupKind(), p.Name, errs).ErrStatus
	return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &status}}
}
