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

// malformedPolicyf builds a policy-document validation error. Its text is not a Go-style
// error string: validatePolicyDocument returns it verbatim as the message of an IAM
// MalformedPolicyDocument error, so it mirrors AWS's wording (capitalised, sometimes ending in
// a full stop) and must not be reworded to Go conventions. All errors of the policy grammar
// checks in this file are built here.
func malformedPolicyf(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// parsePolicyDocument parses and validates doc; errors name the JSON field path.
func parsePolicyDocument(doc string, kind policyKind) ([]policyStatement, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, malformedPolicyf("Syntax errors in policy: %v", err)
	}
	if dec.More() {
		return nil, malformedPolicyf("Syntax errors in policy: trailing data after the policy object")
	}
	for k := range top {
		switch k {
		case "Version", "Id", "Statement":
		default:
			return nil, malformedPolicyf("Unknown field %s", k)
		}
	}
	if v, ok := top["Version"]; ok {
		s, isStr := v.(string)
		if !isStr || (s != "2012-10-17" && s != "2008-10-17") {
			return nil, malformedPolicyf("The policy failed legacy parsing: Version must be \"2012-10-17\" or \"2008-10-17\"")
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, malformedPolicyf("Missing required field Statement")
	}
	var list []any
	switch v := raw.(type) {
	case map[string]any:
		list = []any{v}
	case []any:
		list = v
	default:
		return nil, malformedPolicyf("Statement must be an object or an array of objects")
	}
	if len(list) == 0 {
		return nil, malformedPolicyf("Statement must not be empty")
	}
	out := make([]policyStatement, 0, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, malformedPolicyf("Statement[%d] must be an object", i)
		}
		st, err := parseStatement(m, kind, fmt.Sprintf("Statement[%d]", i))
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// parseStatement parses one statement object (at JSON path path) field by field, then checks
// that the fields a policy of this kind requires are present.
func parseStatement(m map[string]any, kind policyKind, path string) (policyStatement, error) {
	var st policyStatement
	for k, v := range m {
		if err := parseStatementField(&st, k, v, kind, path); err != nil {
			return st, err
		}
	}
	return st, checkStatementRequired(st, kind, path)
}

// parseStatementField validates field k (value v) of a statement and stores it in st.
func parseStatementField(st *policyStatement, k string, v any, kind policyKind, path string) error {
	var err error
	switch k {
	case "Sid":
		s, ok := v.(string)
		if !ok {
			return malformedPolicyf("%s.Sid must be a string", path)
		}
		st.Sid = s
	case "Effect":
		s, _ := v.(string)
		if s != "Allow" && s != "Deny" {
			return malformedPolicyf("%s.Effect must be \"Allow\" or \"Deny\"", path)
		}
		st.Effect = s
	case "Action":
		st.Action, err = parseActions(v, path, k)
	case "NotAction":
		st.NotAction, err = parseActions(v, path, k)
	case "Resource", "NotResource":
		if kind == policyKindTrust {
			return malformedPolicyf("Has prohibited field %s", k)
		}
		if k == "Resource" {
			st.Resource, err = parseResources(v, path, k)
		} else {
			st.NotResource, err = parseResources(v, path, k)
		}
	case "Principal", "NotPrincipal":
		if kind == policyKindIdentity {
			return malformedPolicyf("Policy document should not specify a principal.")
		}
		if k == "Principal" {
			st.Principal, err = parsePrincipal(v, path+"."+k)
		} else {
			st.NotPrincipal, err = parsePrincipal(v, path+"."+k)
		}
	case "Condition":
		st.Condition, err = parseCondition(v, path+".Condition")
	default:
		return malformedPolicyf("%s: Unknown field %s", path, k)
	}
	return err
}

// parseActions parses the Action or NotAction field (named field) of a statement: a string or
// list of strings, each "*" or a vendor-prefixed action pattern.
func parseActions(v any, path, field string) ([]string, error) {
	vals, err := stringOrList(v, path+"."+field)
	if err != nil {
		return nil, err
	}
	for _, a := range vals {
		if !actionRE.MatchString(a) {
			return nil, malformedPolicyf("%s.%s: Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. (got %q)", path, field, a)
		}
	}
	return vals, nil
}

// parseResources parses the Resource or NotResource field (named field) of a statement: a
// string or list of strings, each "*" or an ARN.
func parseResources(v any, path, field string) ([]string, error) {
	vals, err := stringOrList(v, path+"."+field)
	if err != nil {
		return nil, err
	}
	for _, r := range vals {
		if r != "*" && !strings.HasPrefix(r, "arn:") {
			return nil, malformedPolicyf("%s.%s: Resource %s must be in ARN format or \"*\".", path, field, r)
		}
	}
	return vals, nil
}

// checkStatementRequired checks a parsed statement has an Effect, exactly one of Action or
// NotAction, and what its policy kind requires: exactly one of Resource or NotResource for an
// identity policy, a Principal or NotPrincipal for a trust policy.
func checkStatementRequired(st policyStatement, kind policyKind, path string) error {
	if st.Effect == "" {
		return malformedPolicyf("%s: Missing required field Effect", path)
	}
	if (st.Action == nil) == (st.NotAction == nil) {
		return malformedPolicyf("%s: exactly one of Action or NotAction is required", path)
	}
	switch kind {
	case policyKindIdentity:
		if (st.Resource == nil) == (st.NotResource == nil) {
			return malformedPolicyf("%s: exactly one of Resource or NotResource is required", path)
		}
	case policyKindTrust:
		if st.Principal == nil && st.NotPrincipal == nil {
			return malformedPolicyf("%s: Missing required field Principal", path)
		}
	}
	return nil
}

// stringOrList accepts a string or a non-empty array of strings.
func stringOrList(v any, path string) ([]string, error) {
	switch t := v.(type) {
	case string:
		return []string{t}, nil
	case []any:
		if len(t) == 0 {
			return nil, malformedPolicyf("%s must not be empty", path)
		}
		out := make([]string, 0, len(t))
		for i, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, malformedPolicyf("%s[%d] must be a string", path, i)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, malformedPolicyf("%s must be a string or an array of strings", path)
}

func parsePrincipal(v any, path string) (map[string][]string, error) {
	if s, ok := v.(string); ok {
		if s != "*" {
			return nil, malformedPolicyf("%s: Invalid principal in policy: %q", path, s)
		}
		return map[string][]string{"*": {"*"}}, nil
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, malformedPolicyf("%s must be \"*\" or a non-empty object", path)
	}
	out := map[string][]string{}
	for k, raw := range m {
		switch k {
		case "AWS", "Service", "Federated", "CanonicalUser":
		default:
			return nil, malformedPolicyf("%s: Invalid principal type %s", path, k)
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
		return nil, malformedPolicyf("%s must be an object", path)
	}
	out := map[string]map[string][]string{}
	for op, raw := range m {
		if !conditionOpRE.MatchString(op) {
			return nil, malformedPolicyf("%s: Invalid Condition type : %s", path, op)
		}
		keys, ok := raw.(map[string]any)
		if !ok {
			return nil, malformedPolicyf("%s.%s must be an object of condition keys", path, op)
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
					return nil, malformedPolicyf("%s.%s.%s[%d] must be a string, number or boolean", path, op, key, i)
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
// Arn* family, Bool and Null, with IfExists and ForAnyValue/ForAllValues; other operators
// (Numeric*, Date*, IpAddress, BinaryEquals) never hold.
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
			case "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike":
				m = arnMatch(w, h)
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

// arnMatch reports whether arn matches pattern as IAM's ArnLike/ArnEquals do: each of the six
// colon-separated parts is matched separately, with * and ? wildcards (IAM User Guide, "IAM
// JSON policy elements: Condition operators", ARN condition operators).
func arnMatch(pattern, arn string) bool {
	pp, ap := strings.SplitN(pattern, ":", 6), strings.SplitN(arn, ":", 6)
	if len(pp) != 6 || len(ap) != 6 {
		return false
	}
	for i := range pp {
		if !globMatch(pp[i], ap[i]) {
			return false
		}
	}
	return true
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
