package aws

// IAM policy documents: validation of the JSON grammar (IAM JSON policy reference, "Grammar of
// the IAM JSON policy language") and evaluation of role trust policies for
// sts:AssumeRoleWithWebIdentity (IAM "Policy evaluation logic": an explicit Deny wins, then an
// Allow whose Principal, Action and every Condition match; otherwise implicit deny).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

type policyKind int

const (
	policyKindIdentity policyKind = iota // managed or inline policy: Resource required, no Principal
	policyKindTrust                      // role trust policy: Principal required, no Resource
)

// policyStatement is one parsed statement. Principal maps a principal type ("AWS", "Service",
// "Federated", "CanonicalUser") to its values; a bare "*" principal is stored under "*".
type policyStatement struct {
	Sid          string
	Effect       string
	Principal    map[string][]string
	NotPrincipal map[string][]string
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Condition    map[string]map[string][]string // operator -> condition key -> values
}

var actionRE = regexp.MustCompile(`^(\*|[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+)$`)

// validatePolicyDocument checks doc as a policy of the given kind and returns
// MalformedPolicyDocument (400) naming the offending field, or nil.
func validatePolicyDocument(doc string, kind policyKind) *apiError {
	if len(doc) > 131072 {
		return iamMalformedPolicy("Cannot exceed quota for PolicySize: 131072")
	}
	_, err := parsePolicyDocument(doc, kind)
	if err != nil {
		return iamMalformedPolicy("%s", err.Error())
	}
	return nil
}

// parsePolicyDocument parses and validates doc; errors name the JSON field path.
func parsePolicyDocument(doc string, kind policyKind) ([]policyStatement, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("Syntax errors in policy: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("Syntax errors in policy: trailing data after the policy object")
	}
	for k := range top {
		switch k {
		case "Version", "Id", "Statement":
		default:
			return nil, fmt.Errorf("Unknown field %s", k)
		}
	}
	if v, ok := top["Version"]; ok {
		s, isStr := v.(string)
		if !isStr || (s != "2012-10-17" && s != "2008-10-17") {
			return nil, fmt.Errorf("The policy failed legacy parsing: Version must be \"2012-10-17\" or \"2008-10-17\"")
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, fmt.Errorf("Missing required field Statement")
	}
	var list []any
	switch v := raw.(type) {
	case map[string]any:
		list = []any{v}
	case []any:
		list = v
	default:
		return nil, fmt.Errorf("Statement must be an object or an array of objects")
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("Statement must not be empty")
	}
	out := make([]policyStatement, 0, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("Statement[%d] must be an object", i)
		}
		st, err := parseStatement(m, kind, fmt.Sprintf("Statement[%d]", i))
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func parseStatement(m map[string]any, kind policyKind, path string) (policyStatement, error) {
	var st policyStatement
	var err error
	for k, v := range m {
		switch k {
		case "Sid":
			s, ok := v.(string)
			if !ok {
				return st, fmt.Errorf("%s.Sid must be a string", path)
			}
			st.Sid = s
		case "Effect":
			s, _ := v.(string)
			if s != "Allow" && s != "Deny" {
				return st, fmt.Errorf("%s.Effect must be \"Allow\" or \"Deny\"", path)
			}
			st.Effect = s
		case "Action", "NotAction":
			vals, err := stringOrList(v, path+"."+k)
			if err != nil {
				return st, err
			}
			for _, a := range vals {
				if !actionRE.MatchString(a) {
					return st, fmt.Errorf("%s.%s: Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. (got %q)", path, k, a)
				}
			}
			if k == "Action" {
				st.Action = vals
			} else {
				st.NotAction = vals
			}
		case "Resource", "NotResource":
			if kind == policyKindTrust {
				return st, fmt.Errorf("Has prohibited field %s", k)
			}
			vals, err := stringOrList(v, path+"."+k)
			if err != nil {
				return st, err
			}
			for _, r := range vals {
				if r != "*" && !strings.HasPrefix(r, "arn:") {
					return st, fmt.Errorf("%s.%s: Resource %s must be in ARN format or \"*\".", path, k, r)
				}
			}
			if k == "Resource" {
				st.Resource = vals
			} else {
				st.NotResource = vals
			}
		case "Principal", "NotPrincipal":
			if kind == policyKindIdentity {
				return st, fmt.Errorf("Policy document should not specify a principal.")
			}
			p, err := parsePrincipal(v, path+"."+k)
			if err != nil {
				return st, err
			}
			if k == "Principal" {
				st.Principal = p
			} else {
				st.NotPrincipal = p
			}
		case "Condition":
			if st.Condition, err = parseCondition(v, path+".Condition"); err != nil {
				return st, err
			}
		default:
			return st, fmt.Errorf("%s: Unknown field %s", path, k)
		}
	}
	if st.Effect == "" {
		return st, fmt.Errorf("%s: Missing required field Effect", path)
	}
	if (st.Action == nil) == (st.NotAction == nil) {
		return st, fmt.Errorf("%s: exactly one of Action or NotAction is required", path)
	}
	switch kind {
	case policyKindIdentity:
		if (st.Resource == nil) == (st.NotResource == nil) {
			return st, fmt.Errorf("%s: exactly one of Resource or NotResource is required", path)
		}
	case policyKindTrust:
		if st.Principal == nil && st.NotPrincipal == nil {
			return st, fmt.Errorf("%s: Missing required field Principal", path)
		}
	}
	return st, nil
}

// stringOrList accepts a string or a non-empty array of strings.
func stringOrList(v any, path string) ([]string, error) {
	switch t := v.(type) {
	case string:
		return []string{t}, nil
	case []any:
		if len(t) == 0 {
			return nil, fmt.Errorf("%s must not be empty", path)
		}
		out := make([]string, 0, len(t))
		for i, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s[%d] must be a string", path, i)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s must be a string or an array of strings", path)
}

func parsePrincipal(v any, path string) (map[string][]string, error) {
	if s, ok := v.(string); ok {
		if s != "*" {
			return nil, fmt.Errorf("%s: Invalid principal in policy: %q", path, s)
		}
		return map[string][]string{"*": {"*"}}, nil
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, fmt.Errorf("%s must be \"*\" or a non-empty object", path)
	}
	out := map[string][]string{}
	for k, raw := range m {
		switch k {
		case "AWS", "Service", "Federated", "CanonicalUser":
		default:
			return nil, fmt.Errorf("%s: Invalid principal type %s", path, k)
		}
		vals, err := stringOrList(raw, path+"."+k)
		if err != nil {
			return nil, err
		}
		out[k] = vals
	}
	return out, nil
}

// conditionOpRE: an operator, optionally set-qualified and/or IfExists-suffixed.
var conditionOpRE = regexp.MustCompile(`^(ForAnyValue:|ForAllValues:)?(StringEquals|StringNotEquals|StringEqualsIgnoreCase|StringNotEqualsIgnoreCase|StringLike|StringNotLike|NumericEquals|NumericNotEquals|NumericLessThan|NumericLessThanEquals|NumericGreaterThan|NumericGreaterThanEquals|DateEquals|DateNotEquals|DateLessThan|DateLessThanEquals|DateGreaterThan|DateGreaterThanEquals|Bool|BinaryEquals|IpAddress|NotIpAddress|ArnEquals|ArnLike|ArnNotEquals|ArnNotLike|Null)(IfExists)?$`)

func parseCondition(v any, path string) (map[string]map[string][]string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be an object", path)
	}
	out := map[string]map[string][]string{}
	for op, raw := range m {
		if !conditionOpRE.MatchString(op) {
			return nil, fmt.Errorf("%s: Invalid Condition type : %s", path, op)
		}
		keys, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s.%s must be an object of condition keys", path, op)
		}
		out[op] = map[string][]string{}
		for key, vals := range keys {
			var list []any
			if arr, isArr := vals.([]any); isArr {
				list = arr
			} else {
				list = []any{vals}
			}
			for i, e := range list {
				var s string
				switch t := e.(type) {
				case string:
					s = t
				case bool:
					s = strconv.FormatBool(t)
				case json.Number:
					s = t.String()
				default:
					return nil, fmt.Errorf("%s.%s.%s[%d] must be a string, number or boolean", path, op, key, i)
				}
				out[op][key] = append(out[op][key], s)
			}
		}
	}
	return out, nil
}

// trustAllows evaluates a role trust policy for a request by principal (of principalType,
// e.g. "Federated" with an OIDC provider ARN) performing action, with request context keys
// ctx (condition key -> values; keys compared case-insensitively). A parse error denies.
func trustAllows(doc, principalType, principal, action string, ctx map[string][]string) bool {
	stmts, err := parsePolicyDocument(doc, policyKindTrust)
	if err != nil {
		return false
	}
	lctx := map[string][]string{}
	for k, v := range ctx {
		lctx[strings.ToLower(k)] = v
	}
	allowed := false
	for _, st := range stmts {
		if !statementMatches(st, principalType, principal, action, lctx) {
			continue
		}
		if st.Effect == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

func statementMatches(st policyStatement, principalType, principal, action string, ctx map[string][]string) bool {
	if st.Principal != nil && !principalMatches(st.Principal, principalType, principal) {
		return false
	}
	if st.NotPrincipal != nil && principalMatches(st.NotPrincipal, principalType, principal) {
		return false
	}
	if st.Action != nil && !anyGlob(st.Action, action, true) {
		return false
	}
	if st.NotAction != nil && anyGlob(st.NotAction, action, true) {
		return false
	}
	for op, keys := range st.Condition {
		for key, vals := range keys {
			if !conditionHolds(op, ctx[strings.ToLower(key)], vals) {
				return false
			}
		}
	}
	return true
}

func principalMatches(p map[string][]string, typ, principal string) bool {
	if _, ok := p["*"]; ok {
		return true
	}
	for _, v := range p[typ] {
		if v == "*" || v == principal {
			return true
		}
	}
	return false
}

func anyGlob(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			if globMatch(strings.ToLower(p), strings.ToLower(s)) {
				return true
			}
		} else if globMatch(p, s) {
			return true
		}
	}
	return false
}

// conditionHolds evaluates one operator on one key: have are the request's values for the key
// (nil when absent), want the policy's values (any may match). Supported: the String* family,
// Bool and Null, with IfExists and ForAnyValue/ForAllValues; other operators never hold.
func conditionHolds(op string, have, want []string) bool {
	ifExists := strings.HasSuffix(op, "IfExists")
	op = strings.TrimSuffix(op, "IfExists")
	set := ""
	if i := strings.IndexByte(op, ':'); i >= 0 {
		set, op = op[:i], op[i+1:]
	}
	if op == "Null" {
		isNull := len(have) == 0
		for _, w := range want {
			if strings.EqualFold(w, strconv.FormatBool(isNull)) {
				return true
			}
		}
		return false
	}
	negated := strings.Contains(op, "Not")
	if len(have) == 0 {
		switch {
		case set == "ForAllValues":
			return true
		case ifExists:
			return true
		case negated && set == "":
			return true
		}
		return false
	}
	one := func(h string) bool {
		for _, w := range want {
			var m bool
			switch op {
			case "StringEquals", "StringNotEquals":
				m = h == w
			case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
				m = strings.EqualFold(h, w)
			case "StringLike", "StringNotLike":
				m = globMatch(w, h)
			case "Bool":
				m = strings.EqualFold(h, w)
			default:
				return false
			}
			if m {
				return !negated
			}
		}
		return negated
	}
	switch set {
	case "ForAllValues":
		for _, h := range have {
			if !one(h) {
				return false
			}
		}
		return true
	default: // single-valued keys and ForAnyValue: any request value satisfies
		for _, h := range have {
			if one(h) {
				return true
			}
		}
		return false
	}
}

// globMatch reports whether s matches pattern, where * matches any run of characters
// (including none) and ? exactly one, as in IAM's StringLike and Action matching.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
