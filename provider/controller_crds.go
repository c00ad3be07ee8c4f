package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The CRDs' content is tracked in karpenter_controller's crd_digests: CRD name to the digest
// of its spec. Read stores the live CRDs' digests, the plan always the embedded CRDs' (after
// the API server's defaulting), so a CRD edited outside Terraform, or a provider whose
// embedded CRDs changed (an upgrade), plans an update that re-applies them.

// crdDigest is "sha256:" and the first 16 hex digits of the SHA-256 of spec's JSON encoding
// (encoding/json: struct fields in declaration order, map keys sorted, so equal specs give
// equal digests). Errors: a spec that does not encode (never for a decoded CRD).
func crdDigest(spec apiextensionsv1.CustomResourceDefinitionSpec) (string, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])[:16], nil
}

// desiredCRDs returns the embedded CRDs (controllerCRDs) with the API server's defaults set
// (apiextensions/v1 SetObjectDefaults_CustomResourceDefinition: conversion strategy None, ...),
// so that their specs equal the specs the API server stores for them.
func desiredCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	all, err := controllerCRDs()
	if err != nil {
		return nil, err
	}
	for _, crd := range all {
		apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(crd)
	}
	return all, nil
}

// desiredCRDDigests is crd_digests as planned: every embedded CRD's name to its digest.
func desiredCRDDigests() (types.Map, error) {
	all, err := desiredCRDs()
	if err != nil {
		return types.MapNull(types.StringType), err
	}
	elems := map[string]attr.Value{}
	for _, crd := range all {
		d, err := crdDigest(crd.Spec)
		if err != nil {
			return types.MapNull(types.StringType), fmt.Errorf("CRD %s: %w", crd.Name, err)
		}
		elems[crd.Name] = types.StringValue(d)
	}
	return types.MapValueMust(types.StringType, elems), nil
}

// liveCRDDigests reads the embedded CRDs' live counterparts: name to the digest of the live
// spec; a CRD that does not exist is left out (missing_objects reports it). Errors: the API's,
// other than NotFound.
func liveCRDDigests(ctx context.Context, kc client.Client) (types.Map, error) {
	all, err := controllerCRDs()
	if err != nil {
		return types.MapNull(types.StringType), err
	}
	elems := map[string]attr.Value{}
	for _, crd := range all {
		var live apiextensionsv1.CustomResourceDefinition
		err := kc.Get(ctx, client.ObjectKeyFromObject(crd), &live)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return types.MapNull(types.StringType), fmt.Errorf("reading CRD %s: %w", crd.Name, err)
		}
		d, err := crdDigest(live.Spec)
		if err != nil {
			return types.MapNull(types.StringType), fmt.Errorf("CRD %s: %w", crd.Name, err)
		}
		elems[crd.Name] = types.StringValue(d)
	}
	return types.MapValueMust(types.StringType, elems), nil
}

// replaceCRDSpec makes the live CRD's spec exactly desired's (defaulted, see desiredCRDs) when
// their digests differ. Server-side apply keeps what another field manager added (an extra
// property, a category, a printer column), which would show as drift forever; an update of the
// whole spec removes it. Stored objects are kept: the CRD is updated, never deleted.
func replaceCRDSpec(ctx context.Context, kc client.Client, desired *apiextensionsv1.CustomResourceDefinition) error {
	want, err := crdDigest(desired.Spec)
	if err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var live apiextensionsv1.CustomResourceDefinition
		if err := kc.Get(ctx, client.ObjectKeyFromObject(desired), &live); err != nil {
			return err
		}
		if got, err := crdDigest(live.Spec); err != nil || got == want {
			return err
		}
		live.Spec = *desired.Spec.DeepCopy()
		return kc.Update(ctx, &live, client.FieldOwner(fieldOwner))
	})
}

// crdDigestsAttribute is karpenter_controller's crd_digests.
func crdDigestsAttribute() schema.MapAttribute {
	return schema.MapAttribute{Computed: true, ElementType: types.StringType,
		MarkdownDescription: "Content of the installed CRDs: CRD name (`provisioners.karpenter.sh`, `nodeclaims.karpenter.sh`) to " +
			"`sha256:` and 16 hex digits of its spec. A refresh reads the live CRDs; the plan is always the digests of the CRDs " +
			"this provider version embeds, so a CRD changed outside Terraform, or a provider upgrade that changes the CRDs " +
			"(whether `image` is pinned or not), plans an update that re-applies them in place (existing Provisioners stay).",
		PlanModifiers: []planmodifier.Map{embeddedCRDDigests{}}}
}

// embeddedCRDDigests plans crd_digests as the embedded CRDs' digests (see desiredCRDDigests),
// so that a live CRD that differs plans an update.
type embeddedCRDDigests struct{}

func (embeddedCRDDigests) Description(context.Context) string {
	return "Plans the digests of the CRDs this provider version embeds, so that CRDs changed outside Terraform or by an upgrade are re-applied."
}

func (m embeddedCRDDigests) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (embeddedCRDDigests) PlanModifyMap(_ context.Context, req planmodifier.MapRequest, resp *planmodifier.MapResponse) {
	if req.Plan.Raw.IsNull() { // destroy
		return
	}
	want, err := desiredCRDDigests()
	if err != nil {
		resp.Diagnostics.AddError("Invalid embedded CRD", err.Error())
		return
	}
	resp.PlanValue = want
}
