package provider

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
)

// The shared corpus: Provisioners that both the CRD (on a real API server) and the provider's
// plan-time validation must accept (valid/) or refuse (invalid/) at the same place. Each invalid
// file names, in a "# field:" comment, the field path the API server reports; the provider must
// report an error at the matching attribute path (attributePathOf) or below it. Optional
// comments tighten the check:
//
//	# attribute: labels["kubernetes.io/hostname"]   the plan's error is at this attribute (or below it) instead
//	# message: kubernetes.io/hostname                 the API server's error at the field and the plan's error
//	                                                  at the attribute both contain this text (repeatable)
//	# plan-message: Invalid taint value               the plan's error (summary: detail) contains this text (repeatable)
var corpusDir = filepath.Join("..", "controller", "apis", "v1alpha5", "testdata", "provisioners")

type corpusCase struct {
	name, file, field string
	// attribute overrides the plan's attribute path derived from field.
	attribute string
	// messages must be in the CRD's error at field and the plan's at the attribute;
	// planMessages in the plan's only.
	messages, planMessages []string
	valid                  bool
	// planOnly cases (plan-only/) are refused by plan and by v1alpha5's Validate (the
	// controller's check before a launch, and its validating webhook: TestAccControllerWebhook
	// runs the corpus through the API server with it) but accepted by the CRD alone, which
	// cannot express the rule within the API server's CEL cost budget; each file says why.
	planOnly bool
	obj      map[string]any
}

func loadCorpus(t *testing.T) []corpusCase {
	t.Helper()
	var out []corpusCase
	for _, kind := range []string{"valid", "invalid", "plan-only"} {
		files, err := filepath.Glob(filepath.Join(corpusDir, kind, "*.yaml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no corpus files in %s/%s: %v", corpusDir, kind, err)
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c := corpusCase{name: kind + "/" + strings.TrimSuffix(filepath.Base(f), ".yaml"), file: f, valid: kind == "valid", planOnly: kind == "plan-only"}
			sc := bufio.NewScanner(strings.NewReader(string(raw)))
			for sc.Scan() {
				line := sc.Text()
				if v, ok := strings.CutPrefix(line, "# field: "); ok {
					c.field = strings.TrimSpace(v)
				}
				if v, ok := strings.CutPrefix(line, "# attribute: "); ok {
					c.attribute = strings.TrimSpace(v)
				}
				if v, ok := strings.CutPrefix(line, "# message: "); ok {
					c.messages = append(c.messages, strings.TrimSpace(v))
				}
				if v, ok := strings.CutPrefix(line, "# plan-message: "); ok {
					c.planMessages = append(c.planMessages, strings.TrimSpace(v))
				}
			}
			if !c.valid && c.field == "" {
				t.Fatalf("%s: an invalid case needs a '# field: spec.x' line", f)
			}
			// As the API server decodes: JSON integers as int64, not float64.
			js, err := yaml.YAMLToJSON(raw)
			if err == nil {
				err = utiljson.Unmarshal(js, &c.obj)
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, c)
		}
	}
	return out
}

// installProvisionerCRD creates or updates the generated Provisioner CRD on the sandbox's API
// server and waits until it is Established and serves the current schema.
func installProvisionerCRD(t *testing.T) dynamic.Interface {
	t.Helper()
	cfg := sandboxtest.Start(t).RESTConfig()
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(crds.Provisioner, &crd); err != nil {
		t.Fatalf("generated CRD does not parse: %v", err)
	}
	ext := apiextensionsclient.NewForConfigOrDie(cfg).ApiextensionsV1().CustomResourceDefinitions()
	ctx := context.Background()
	got, err := ext.Get(ctx, crd.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = ext.Create(ctx, &crd, metav1.CreateOptions{})
	case err == nil:
		crd.ResourceVersion = got.ResourceVersion
		_, err = ext.Update(ctx, &crd, metav1.UpdateOptions{})
	}
	if err != nil {
		t.Fatalf("API server refused the generated CRD: %v", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := ext.Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD not established: %v", err)
	}
	return dynamic.NewForConfigOrDie(cfg)
}

var provisionerGVR = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1alpha5", Resource: "provisioners"}

// apiVerdict is the API server's answer to a server-side dry run (kubectl apply --dry-run=server):
// nil, or the field paths of the causes of an Invalid error.
func apiVerdict(t *testing.T, dyn dynamic.Interface, obj map[string]any) ([]string, error) {
	t.Helper()
	u := &unstructured.Unstructured{Object: obj}
	_, err := dyn.Resource(provisionerGVR).Create(context.Background(), u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil {
		return nil, nil
	}
	var se *apierrors.StatusError
	if !apierrors.IsInvalid(err) || !errors.As(err, &se) || se.ErrStatus.Details == nil {
		return nil, err
	}
	var fields []string
	for _, c := range se.ErrStatus.Details.Causes {
		fields = append(fields, c.Field+": "+c.Message)
	}
	return fields, nil
}

// planVerdict runs the provider's plan-time validation (schema validators and ValidateConfig,
// through the same protocol server terraform talks to) on the Provisioner written as the
// karpenter_provisioner configuration, and returns the attribute paths and texts of the error
// diagnostics.
func planVerdict(t *testing.T, obj map[string]any) []string {
	t.Helper()
	ctx := context.Background()
	var sr resource.SchemaResponse
	(&provisionerResource{}).Schema(ctx, resource.SchemaRequest{}, &sr)
	typ := sr.Schema.Type().TerraformType(ctx).(tftypes.Object)
	spec, _ := obj["spec"].(map[string]any)
	meta, _ := obj["metadata"].(map[string]any)
	cfg, err := specToTF(spec, typ, meta["name"])
	if err != nil {
		var pe *pathError
		if errors.As(err, &pe) {
			return []string{pe.path + ": " + pe.msg} // terraform refuses a value of the wrong type at its attribute
		}
		t.Fatalf("cannot write the Provisioner as HCL: %v", err)
	}
	dv, err := tfprotov6.NewDynamicValue(typ, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := providerserver.NewProtocol6(New("test")())()
	if _, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{}); err != nil {
		t.Fatal(err)
	}
	resp, err := srv.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: "karpenter_provisioner", Config: &dv})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range resp.Diagnostics {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			out = append(out, attributePathString(d.Attribute)+": "+d.Summary+": "+d.Detail)
		}
	}
	return out
}

// attributePathString spells a protocol attribute path as the framework's path.Path does:
// requirement[0].key, labels["team"].
func attributePathString(p *tftypes.AttributePath) string {
	if p == nil {
		return ""
	}
	var b strings.Builder
	for _, s := range p.Steps() {
		switch s := s.(type) {
		case tftypes.AttributeName:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(string(s))
		case tftypes.ElementKeyInt:
			fmt.Fprintf(&b, "[%d]", int64(s))
		case tftypes.ElementKeyString:
			fmt.Fprintf(&b, "[%q]", string(s))
		}
	}
	return b.String()
}

type pathError struct{ path, msg string }

func (e *pathError) Error() string { return e.path + ": " + e.msg }

// specToTF writes a Provisioner spec (JSON shape) as the karpenter_provisioner configuration:
// field names in snake case or as specBlockNames renames them, single objects as a block of
// one, limits.resources split into cpu, memory and resources. A spec field the HCL cannot hold
// is an error.
func specToTF(spec map[string]any, typ tftypes.Object, name any) (tftypes.Value, error) {
	vals := map[string]tftypes.Value{}
	for k, at := range typ.AttributeTypes {
		vals[k] = tftypes.NewValue(at, nil)
	}
	vals["name"] = tftypes.NewValue(tftypes.String, name)
	for _, k := range sortedAnyKeys(spec) {
		hcl := snakeCase(k)
		if b, ok := specBlockNames[k]; ok {
			hcl = b.hcl
		}
		at, ok := typ.AttributeTypes[hcl]
		if !ok {
			return tftypes.Value{}, fmt.Errorf("spec.%s has no attribute %s in karpenter_provisioner", k, hcl)
		}
		v := spec[k]
		if k == "limits" {
			v = splitLimits(v)
		}
		tv, err := toTF(v, at, hcl)
		if err != nil {
			return tftypes.Value{}, err
		}
		vals[hcl] = tv
	}
	return tftypes.NewValue(typ, vals), nil
}

// splitLimits turns {resources: {cpu, memory, other...}} into the block's {cpu, memory, resources: {other...}}.
func splitLimits(v any) any {
	m, _ := v.(map[string]any)
	res, _ := m["resources"].(map[string]any)
	out := map[string]any{}
	other := map[string]any{}
	for k, q := range res {
		if limitsAttributes[k] {
			out[k] = q
		} else {
			other[k] = q
		}
	}
	if len(other) > 0 {
		out["resources"] = other
	}
	return out
}

func toTF(v any, t tftypes.Type, at string) (tftypes.Value, error) {
	if v == nil {
		return tftypes.NewValue(t, nil), nil
	}
	bad := func() (tftypes.Value, error) {
		return tftypes.Value{}, &pathError{at, fmt.Sprintf("Incorrect attribute value type: %T for %s", v, t)}
	}
	switch {
	case t.Is(tftypes.String):
		switch x := v.(type) {
		case string:
			return tftypes.NewValue(t, x), nil
		case float64, int64, bool: // HCL converts numbers and bools to strings
			return tftypes.NewValue(t, fmt.Sprint(x)), nil
		}
		return bad()
	case t.Is(tftypes.Number):
		switch x := v.(type) {
		case float64:
			return tftypes.NewValue(t, big.NewFloat(x)), nil
		case int64:
			return tftypes.NewValue(t, new(big.Float).SetInt64(x)), nil
		}
		return bad()
	case t.Is(tftypes.Bool):
		if x, ok := v.(bool); ok {
			return tftypes.NewValue(t, x), nil
		}
		return bad()
	case t.Is(tftypes.List{}):
		et := t.(tftypes.List).ElementType
		items, ok := v.([]any)
		if m, single := v.(map[string]any); single {
			items, ok = []any{m}, true // a nested object is a block of one
		}
		if !ok {
			return bad()
		}
		var elems []tftypes.Value
		for i, it := range items {
			e, err := toTF(it, et, at+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return tftypes.Value{}, err
			}
			elems = append(elems, e)
		}
		return tftypes.NewValue(t, elems), nil
	case t.Is(tftypes.Map{}):
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		elems := map[string]tftypes.Value{}
		for k, it := range m {
			e, err := toTF(it, t.(tftypes.Map).ElementType, fmt.Sprintf("%s[%q]", at, k))
			if err != nil {
				return tftypes.Value{}, err
			}
			elems[k] = e
		}
		return tftypes.NewValue(t, elems), nil
	case t.Is(tftypes.Object{}):
		ot := t.(tftypes.Object)
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		vals := map[string]tftypes.Value{}
		for k, a := range ot.AttributeTypes {
			vals[k] = tftypes.NewValue(a, nil)
		}
		for _, k := range sortedAnyKeys(m) {
			hcl := snakeCase(k)
			a, ok := ot.AttributeTypes[hcl]
			if !ok {
				return tftypes.Value{}, fmt.Errorf("%s.%s: no such attribute in karpenter_provisioner", at, hcl)
			}
			e, err := toTF(m[k], a, at+"."+hcl)
			if err != nil {
				return tftypes.Value{}, err
			}
			vals[hcl] = e
		}
		return tftypes.NewValue(t, vals), nil
	}
	return bad()
}

func sortedAnyKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// under reports whether attribute path got is want or below it.
func under(got, want string) bool {
	return got == want || strings.HasPrefix(got, want+".") || strings.HasPrefix(got, want+"[")
}

// TestProvisionerCorpus checks that the CRD on a real API server (server-side dry run, as
// kubectl apply --dry-run=server) and the provider's plan-time validation agree on every corpus
// case: both accept the valid ones; both refuse the invalid ones, the API server at the file's
// field path and the provider at the same attribute (or below it).
func TestProvisionerCorpus(t *testing.T) {
	dyn := installProvisionerCRD(t)
	for _, c := range loadCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			apiFields, err := apiVerdict(t, dyn, c.obj)
			if err != nil {
				t.Fatalf("API server: %v", err)
			}
			checkCorpusCase(t, c, "API server", apiFields, planVerdict(t, c.obj))
		})
	}
}

// TestProvisionerCorpusOffline is TestProvisionerCorpus with the API server's validation code
// run in-process (crds.Validator, as the simulate command uses it): no sandbox needed.
func TestProvisionerCorpusOffline(t *testing.T) {
	v, err := crds.ProvisionerValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range loadCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			var fields []string
			for _, e := range v.Validate(context.Background(), c.obj).Errors {
				fields = append(fields, e.Field+": "+e.ErrorBody())
			}
			checkCorpusCase(t, c, "CRD validator", fields, planVerdict(t, c.obj))
		})
	}
}

// checkCorpusCase compares the CRD's verdict (field paths and messages) and the plan's
// (attribute paths and messages) with the case: each side has an error at the case's place
// that contains every text the case's message lines ask for.
func checkCorpusCase(t *testing.T, c corpusCase, judge string, crdErrs, planErrs []string) {
	t.Helper()
	if c.valid {
		if len(crdErrs) > 0 {
			t.Errorf("%s refused a valid Provisioner: %v", judge, crdErrs)
		}
		if len(planErrs) > 0 {
			t.Errorf("plan refused a valid Provisioner: %v", planErrs)
		}
		return
	}
	switch {
	case c.planOnly:
		if len(crdErrs) > 0 {
			t.Errorf("%s now refuses a plan-only case (move it to invalid/): %v", judge, crdErrs)
		}
		raw, _ := os.ReadFile(c.file)
		var p v1alpha5.Provisioner
		if err := yaml.UnmarshalStrict(raw, &p); err != nil {
			t.Fatalf("%s does not decode: %v", c.file, err)
		}
		if errs := p.Spec.Validate(field.NewPath("spec")); !containsPrefix(errStrings(errs), c.field+": ") {
			t.Errorf("v1alpha5 Validate: want an error at %s, got %v", c.field, errs)
		}
	case !containsPrefix(crdErrs, c.field+": "):
		t.Errorf("%s: want an error at %s, got %v", judge, c.field, crdErrs)
	default:
		for _, m := range c.messages {
			if !slices.ContainsFunc(crdErrs, func(e string) bool { return strings.HasPrefix(e, c.field+": ") && strings.Contains(e, m) }) {
				t.Errorf("%s: want an error at %s that says %q, got %v", judge, c.field, m, crdErrs)
			}
		}
	}
	for _, e := range crdErrs {
		// A CEL rule that fails to evaluate (a conversion error) shows users the rule's
		// internals instead of its message: rules must be guarded to evaluate on any input.
		if strings.Contains(e, "evaluating rule") {
			t.Errorf("%s: a CEL rule failed to evaluate: %s", judge, e)
		}
	}
	wantPath, ok := attributePathOf(c.field)
	if !ok {
		t.Fatalf("field %s has no attribute path", c.field)
	}
	want := wantPath.String()
	if c.attribute != "" {
		want = c.attribute
	}
	var at []string
	for _, e := range planErrs {
		if got, _, _ := strings.Cut(e, ": "); under(got, want) {
			at = append(at, e)
		}
	}
	if len(at) == 0 {
		t.Errorf("plan: want an error at %s (%s), got %v", want, c.field, planErrs)
	}
	for _, m := range slices.Concat(c.messages, c.planMessages) {
		if !slices.ContainsFunc(at, func(e string) bool { return strings.Contains(e, m) }) {
			t.Errorf("plan: want an error at %s that says %q, got %v", want, m, planErrs)
		}
	}
}

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field+": "+e.ErrorBody())
	}
	return out
}

func containsPrefix(ss []string, prefix string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestProvisionerCorpusRoundTrip converts every valid Provisioner to the HCL model and back
// (provisionerFromSpec, toSpec), as Read and then Update do, and wants the same spec: every
// field of the CRD has a place in HCL and none is lost on Read.
func TestProvisionerCorpusRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, c := range loadCorpus(t) {
		if !c.valid {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			raw, _ := os.ReadFile(c.file)
			var p v1alpha5.Provisioner
			if err := yaml.UnmarshalStrict(raw, &p); err != nil {
				t.Fatalf("%s does not decode: %v", c.file, err)
			}
			m := provisionerFromSpec(p.Name, p.Spec, provisionerModel{})
			back, diags := m.toSpec(ctx)
			if diags.HasError() {
				t.Fatalf("toSpec: %v", diags)
			}
			if !apiequality.Semantic.DeepEqual(back, p.Spec) {
				t.Errorf("round trip changed the spec:\n got %+v\nwant %+v", back, p.Spec)
			}
			// Read again with the state as prior: nothing changes (no permanent diff).
			if again := provisionerFromSpec(p.Name, back, m); !equalModels(ctx, t, again, m) {
				t.Errorf("a second Read differs from the first")
			}
		})
	}
}

func equalModels(ctx context.Context, t *testing.T, a, b provisionerModel) bool {
	t.Helper()
	var sr resource.SchemaResponse
	(&provisionerResource{}).Schema(ctx, resource.SchemaRequest{}, &sr)
	sa := tfsdk.State{Schema: sr.Schema}
	sb := tfsdk.State{Schema: sr.Schema}
	if d := sa.Set(ctx, &a); d.HasError() {
		t.Fatalf("state: %v", d)
	}
	if d := sb.Set(ctx, &b); d.HasError() {
		t.Fatalf("state: %v", d)
	}
	return sa.Raw.Equal(sb.Raw)
}
