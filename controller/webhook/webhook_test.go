package webhook

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

const corpus = "../apis/v1alpha5/testdata/provisioners"

func testScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(v1alpha5.AddToScheme(s))
	return s
}

// corpusFile reads a corpus Provisioner as JSON and the field its '# field:' line names.
func corpusFile(t *testing.T, path string) (raw []byte, fieldPath string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "# field: "); ok {
			fieldPath = strings.TrimSpace(v)
		}
	}
	raw, err = yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return raw, fieldPath
}

func review(op admissionv1.Operation, obj, old []byte) admission.Request {
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: op}}
	req.Object.Raw = obj
	if old != nil {
		req.OldObject.Raw = old
	}
	return req
}

// The webhook refuses every case the CRD cannot (plan-only/), at the case's field with a 422
// Invalid status, and admits every valid case.
func TestProvisionerValidatorFollowsTheCorpus(t *testing.T) {
	h := NewProvisionerValidator(testScheme()).Handler
	refused, _ := filepath.Glob(filepath.Join(corpus, "plan-only", "*.yaml"))
	valid, _ := filepath.Glob(filepath.Join(corpus, "valid", "*.yaml"))
	if len(refused) == 0 || len(valid) == 0 {
		t.Fatal("no corpus files")
	}
	for _, f := range refused {
		raw, fieldPath := corpusFile(t, f)
		resp := h.Handle(context.Background(), review(admissionv1.Create, raw, nil))
		if resp.Allowed || resp.Result == nil || resp.Result.Code != 422 || resp.Result.Details == nil {
			t.Errorf("%s: want a 422 refusal, got %+v", f, resp.AdmissionResponse)
			continue
		}
		found := false
		for _, c := range resp.Result.Details.Causes {
			found = found || c.Field == fieldPath
		}
		if !found || !strings.Contains(resp.Result.Message, fieldPath+": ") {
			t.Errorf("%s: want a cause at %s, got %q %+v", f, fieldPath, resp.Result.Message, resp.Result.Details.Causes)
		}
	}
	for _, f := range valid {
		raw, _ := corpusFile(t, f)
		if resp := h.Handle(context.Background(), review(admissionv1.Create, raw, nil)); !resp.Allowed {
			t.Errorf("%s: refused a valid Provisioner: %+v", f, resp.Result)
		}
	}
}

// An update that leaves an invalid spec as it was (a finalizer or label change of an object
// stored while the webhook was unreachable) is admitted; one that changes it is judged.
func TestProvisionerValidatorRatchetsUnchangedSpecs(t *testing.T) {
	h := NewProvisionerValidator(testScheme()).Handler
	raw, _ := corpusFile(t, filepath.Join(corpus, "plan-only", "bottlerocket-user-data-not-toml.yaml"))
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	obj["metadata"].(map[string]any)["finalizers"] = []any{"example.com/x"}
	relabelled, _ := json.Marshal(obj)
	if resp := h.Handle(context.Background(), review(admissionv1.Update, relabelled, raw)); !resp.Allowed {
		t.Errorf("metadata-only update of an invalid Provisioner refused: %+v", resp.Result)
	}
	obj["spec"].(map[string]any)["ttlSecondsAfterEmpty"] = 30
	changed, _ := json.Marshal(obj)
	if resp := h.Handle(context.Background(), review(admissionv1.Update, changed, raw)); resp.Allowed {
		t.Error("an update changing the spec of an invalid Provisioner was admitted")
	}
	if resp := h.Handle(context.Background(), review(admissionv1.Create, []byte("{not json"), nil)); resp.Allowed || resp.Result.Code != 400 {
		t.Errorf("undecodable object: want 400, got %+v", resp.AdmissionResponse)
	}
}
