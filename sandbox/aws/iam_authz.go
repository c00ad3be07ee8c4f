package aws

import (
	"net/http"
	"strings"
)

// authorize decides whether the principal that signed r may perform action (e.g.
// "ssm:GetParameter") on resource (an ARN, or "*" for actions without resource-level
// permissions) given request condition keys ctx (e.g. "aws:RequestTag/karpenter.sh/discovery";
// may be nil). The global keys aws:RequestedRegion, aws:PrincipalArn and aws:PrincipalAccount are
// added.
//
// Long-term credentials (the sandbox admin) may do anything. An assumed-role session is
// evaluated against its role's identity policies (the default version of each attached managed
// policy, and every inline policy) by IAM's evaluation logic: an explicit Deny wins, otherwise
// an Allow whose Action, Resource and every Condition match is needed (IAM "Policy evaluation
// logic"; permission boundaries, SCPs and session policies do not exist in the emulator).
//
// It returns nil when allowed; otherwise the credential error of requestSession, or an
// *apiError with HTTP 403 and code denyCode (e.g. "AccessDenied" for IAM/SSM/EKS,
// "UnauthorizedOperation" for EC2) and AWS's message form.
func (e *Emulator) authorize(r *http.Request, denyCode, action, resource string, ctx map[string][]string) *apiError {
	sess, aerr := e.requestSession(r)
	if aerr != nil || sess == nil {
		return aerr
	}
	return e.authorizeSession(sess, denyCode, action, resource, ctx)
}

// authorizeSession evaluates one request of the assumed-role session sess (see authorize).
func (e *Emulator) authorizeSession(sess *stsSession, denyCode, action, resource string, ctx map[string][]string) *apiError {
	full := map[string][]string{
		"aws:RequestedRegion":  {e.opts.Region},
		"aws:PrincipalArn":     {sess.roleArn},
		"aws:PrincipalAccount": {e.opts.AccountID},
	}
	for k, v := range sess.tags {
		full["aws:PrincipalTag/"+k] = []string{v}
	}
	for k, v := range ctx {
		full[k] = v
	}
	e.mu.Lock()
	docs := e.state.iam.roleIdentityPolicies(sess.roleArn)
	e.mu.Unlock()
	switch evaluateIdentity(docs, action, resource, full) {
	case decisionAllow:
		return nil
	case decisionExplicitDeny:
		return errorf(http.StatusForbidden, denyCode, "User: %s is not authorized to perform: %s on resource: %s with an explicit deny in an identity-based policy",
			sess.assumedRoleArn, action, resource)
	}
	return errorf(http.StatusForbidden, denyCode, "User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
		sess.assumedRoleArn, action, resource, action)
}

// roleIdentityPolicies returns the documents of every policy that grants the role permissions.
// Caller holds e.mu.
func (s *iamStore) roleIdentityPolicies(roleArn string) []string {
	var role *iamRole
	for _, r := range s.roles {
		if r.arn == roleArn {
			role = r
		}
	}
	if role == nil {
		return nil // the role was deleted: its sessions keep no permissions
	}
	var docs []string
	for _, arn := range role.attached {
		if p := s.policies[arn]; p != nil {
			if v := p.version(p.defaultVersion); v != nil {
				docs = append(docs, v.doc)
			}
		}
	}
	for _, name := range iamSortedKeys(role.inline) {
		docs = append(docs, role.inline[name])
	}
	return docs
}

// decision is the outcome of evaluating policies for one request (IAM User Guide, "Policy
// evaluation logic": an explicit deny overrides any allow; without an allow the request is
// implicitly denied).
type decision int

const (
	decisionImplicitDeny decision = iota
	decisionAllow
	decisionExplicitDeny
)

// identityAllows reports whether identity policies docs allow action on resource.
func identityAllows(docs []string, action, resource string, ctx map[string][]string) bool {
	return evaluateIdentity(docs, action, resource, ctx) == decisionAllow
}

// evaluateIdentity evaluates identity policies for one action on one resource: a matching Deny
// statement wins over any Allow; a matching Allow allows; otherwise implicit deny. A statement
// matches when its Action (or NotAction), Resource (or NotResource) and every Condition match.
// Condition keys in ctx are matched case-insensitively; unparsable documents grant nothing.
func evaluateIdentity(docs []string, action, resource string, ctx map[string][]string) decision {
	lctx := make(map[string][]string, len(ctx))
	for k, v := range ctx {
		lctx[strings.ToLower(k)] = v
	}
	result := decisionImplicitDeny
	for _, doc := range docs {
		stmts, err := parsePolicyDocument(doc, policyKindIdentity)
		if err != nil {
			continue
		}
		for _, st := range stmts {
			if st.Resource != nil && !anyGlob(st.Resource, resource, false) {
				continue
			}
			if st.NotResource != nil && anyGlob(st.NotResource, resource, false) {
				continue
			}
			if !statementMatches(st, "", "", action, lctx) {
				continue
			}
			if st.Effect == "Deny" {
				return decisionExplicitDeny
			}
			result = decisionAllow
		}
	}
	return result
}

// iamRequestResource returns the ARN an IAM request acts on, for authorization: the instance
// profile, role, policy or OIDC provider it names (in that order of precedence, as IAM's
// service authorization reference lists the resource of each action), else "*".
func (s *iamStore) iamRequestResource(form map[string][]string) string {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	acct := s.e.iamARN("")
	if n := get("InstanceProfileName"); n != "" {
		if p := s.profiles[strings.ToLower(n)]; p != nil {
			return p.arn
		}
		return acct + "instance-profile" + pathOr(get("Path")) + n
	}
	if n := get("RoleName"); n != "" {
		if r := s.roles[strings.ToLower(n)]; r != nil {
			return r.arn
		}
		return acct + "role" + pathOr(get("Path")) + n
	}
	if a := get("PolicyArn"); a != "" {
		return a
	}
	if n := get("PolicyName"); n != "" { // CreatePolicy
		return acct + "policy" + pathOr(get("Path")) + n
	}
	if a := get("OpenIDConnectProviderArn"); a != "" {
		return a
	}
	if u := get("Url"); u != "" { // CreateOpenIDConnectProvider
		if host, aerr := oidcProviderURL(u, "url"); aerr == nil {
			return acct + "oidc-provider/" + host
		}
	}
	return "*"
}

func pathOr(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
