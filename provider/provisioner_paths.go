package provider

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Field paths of the API server (spec.requirements[0].key, spec.labels[team]) and attribute
// paths of karpenter_provisioner (requirement[0].key, labels["team"]) name the same place; this
// file translates one into the other, so an error the API server returns on apply is reported
// at the attribute the user wrote, as plan-time validation reports it.

// specBlockNames are the spec fields whose HCL name is not the snake case of the JSON name, and
// whether each is an object written as a nested block of at most one element ([0] in paths).
var specBlockNames = map[string]struct {
	hcl    string
	single bool
}{
	"requirements":         {"requirement", false},
	"taints":               {"taint", false},
	"startupTaints":        {"startup_taint", false},
	"provider":             {"aws", true}, // provider is a Terraform meta-argument
	"limits":               {"limits", true},
	"kubeletConfiguration": {"kubelet_configuration", true},
	"consolidation":        {"consolidation", true},
}

// limitsAttributes are the resources of spec.limits.resources written as their own attributes
// of the limits block; every other resource is a key of limits.resources.
var limitsAttributes = map[string]bool{"cpu": true, "memory": true}

// snakeCaseExceptions are JSON field names whose HCL name is not what snakeCase's rule makes of
// them (as the AWS provider spells it).
var snakeCaseExceptions = map[string]string{"httpProtocolIPv6": "http_protocol_ipv6"}

// snakeCase spells a JSON field name as an HCL attribute name: clusterDNS -> cluster_dns,
// imageGCHighThresholdPercent -> image_gc_high_threshold_percent.
func snakeCase(s string) string {
	if h, ok := snakeCaseExceptions[s]; ok {
		return h
	}
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 && (unicode.IsLower(r[i-1]) || (i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1]))) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// fieldSegment is one step of an API field path: a name, an index or a map key.
type fieldSegment struct {
	name  string
	index int
	key   string
	kind  byte // 'n' name, 'i' index, 'k' key
}

// parseFieldPath splits an API server field path (as field.Path.String() spells it:
// spec.labels[example.com/team], spec.requirements[0].key) into segments.
func parseFieldPath(s string) ([]fieldSegment, error) {
	var out []fieldSegment
	for len(s) > 0 {
		switch s[0] {
		case '.':
			s = s[1:]
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [ in field path")
			}
			inner := s[1:end]
			if i, err := strconv.Atoi(inner); err == nil {
				out = append(out, fieldSegment{index: i, kind: 'i'})
			} else {
				out = append(out, fieldSegment{key: strings.Trim(inner, `"`), kind: 'k'})
			}
			s = s[end+1:]
		default:
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			out = append(out, fieldSegment{name: s[:end], kind: 'n'})
			s = s[end:]
		}
	}
	return out, nil
}

// attributePathOf returns the karpenter_provisioner attribute path of an API server field path
// of a Provisioner (spec.provider.subnetSelector -> aws[0].subnet_selector,
// spec.limits.resources[nvidia.com/gpu] -> limits[0].resources["nvidia.com/gpu"]); ok is false
// for a path outside spec or one that does not parse.
func attributePathOf(field string) (path.Path, bool) {
	// The API server spells a key of a map it checked by pattern after a dot
	// (spec.limits.resources.nvidia.com/gpu, spec.labels.example.com/team): the rest of the
	// path is the key.
	for _, m := range []string{"spec.limits.resources.", "spec.labels.", "spec.annotations."} {
		if name, ok := strings.CutPrefix(field, m); ok {
			field = m[:len(m)-1] + "[" + name + "]"
		}
	}
	segs, err := parseFieldPath(field)
	if err != nil || len(segs) < 2 || segs[0].name != "spec" || segs[1].kind != 'n' {
		return path.Empty(), false
	}
	var p path.Path
	first := segs[1].name
	rest := segs[2:]
	if b, ok := specBlockNames[first]; ok {
		p = path.Root(b.hcl)
		if b.single {
			p = p.AtListIndex(0)
		}
	} else {
		p = path.Root(snakeCase(first))
	}
	if first == "limits" && len(rest) > 0 && rest[0].name == "resources" {
		rest = rest[1:]
		switch {
		case len(rest) == 0:
			return p, true
		case rest[0].kind == 'n' && limitsAttributes[rest[0].name]:
			return p.AtName(rest[0].name), true
		case rest[0].kind == 'k' && limitsAttributes[rest[0].key]:
			return p.AtName(rest[0].key), true
		case rest[0].kind == 'n':
			return p.AtName("resources").AtMapKey(rest[0].name), true
		default:
			return p.AtName("resources").AtMapKey(rest[0].key), true
		}
	}
	for _, s := range rest {
		switch s.kind {
		case 'n':
			p = p.AtName(snakeCase(s.name))
		case 'i':
			p = p.AtListIndex(s.index)
		default:
			p = p.AtMapKey(s.key)
		}
	}
	return p, true
}

// apiErrorDiagnostics reports an error of the API server on a Provisioner: each cause of an
// Invalid error at the attribute its field path names (spec.requirements[0].key ->
// requirement[0].key), anything else as an error without a path.
func apiErrorDiagnostics(summary string, err error) diag.Diagnostics {
	var diags diag.Diagnostics
	var se *apierrors.StatusError
	if errors.As(err, &se) && se.ErrStatus.Details != nil && len(se.ErrStatus.Details.Causes) > 0 {
		for _, c := range se.ErrStatus.Details.Causes {
			if p, ok := attributePathOf(c.Field); ok {
				diags.AddAttributeError(p, summary, fmt.Sprintf("%s: %s (%s)", p, c.Message, c.Field))
				continue
			}
			diags.AddError(summary, fmt.Sprintf("%s: %s", c.Field, c.Message))
		}
		return diags
	}
	diags.AddError(summary, err.Error())
	return diags
}
