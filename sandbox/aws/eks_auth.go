package aws

// The EKS Auth API (service "eks-auth", rest-json): AssumeRoleForPodIdentity, POST
// /clusters/{clusterName}/assume-role-for-pod-identity with {"token": <service-account
// token>}, which the EKS Pod Identity agent calls on a pod's behalf (EKS Auth API Reference,
// AssumeRoleForPodIdentity). The token must be a service-account token of the cluster with
// audience pods.eks.amazonaws.com; the Pod Identity association of its namespace and service
// account names the role, whose trust policy must allow the service principal
// pods.eks.amazonaws.com both sts:AssumeRole and sts:TagSession. The credentials carry the
// session tags EKS sets (eks-cluster-arn, eks-cluster-name, kubernetes-namespace,
// kubernetes-service-account, kubernetes-pod-name, kubernetes-pod-uid), which policies read as
// aws:PrincipalTag/<key>.

import (
	"net/http"
	"strings"

	"github.com/go-jose/go-jose/v4/jwt"
)

// PodIdentityAudience is the audience of the service-account tokens the Pod Identity agent
// exchanges (Amazon EKS User Guide, "Understand EKS Pod Identity").
const PodIdentityAudience = "pods.eks.amazonaws.com"

// PodIdentityServicePrincipal is the service principal a role's trust policy names for Pod
// Identity.
const PodIdentityServicePrincipal = "pods.eks.amazonaws.com"

// podIdentityClaims are the Kubernetes claims of a bound service-account token.
type podIdentityClaims struct {
	Kubernetes struct {
		Namespace      string `json:"namespace"`
		Pod            podRef `json:"pod"`
		ServiceAccount podRef `json:"serviceaccount"`
	} `json:"kubernetes.io"`
}

type podRef struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

func (e *Emulator) serveEKSAuth(w http.ResponseWriter, r *http.Request) {
	rt, ok := parseEKSRoute(r)
	if !ok || r.Method != http.MethodPost || rt.collection != "assume-role-for-pod-identity" || rt.hasID {
		writeRestJSONError(w, http.StatusNotFound, "NotFoundException", "The emulator does not implement "+r.Method+" "+r.URL.Path)
		return
	}
	if aerr := e.authorize(r, "AccessDeniedException", "eks-auth:AssumeRoleForPodIdentity", e.eksARN("cluster/"+rt.cluster), nil); aerr != nil {
		if aerr.Code != "AccessDeniedException" {
			aerr = jsonCredentialError(aerr)
		}
		writeRestJSONError(w, aerr.Status, aerr.Code, aerr.Message)
		return
	}
	out, aerr := e.assumeRoleForPodIdentity(r, rt.cluster)
	if aerr != nil {
		writeRestJSONError(w, aerr.Status, aerr.Code, aerr.Message)
		return
	}
	writeAWSJSON(w, "application/json", out)
}

func (e *Emulator) assumeRoleForPodIdentity(r *http.Request, cluster string) (any, *apiError) {
	var in struct {
		Token string `json:"token"`
	}
	if aerr := decodeEKSBody(r, &in); aerr != nil {
		return nil, aerr
	}
	if cluster != e.opts.ClusterName {
		return nil, errorf(http.StatusNotFound, "ResourceNotFoundException", "No cluster found for name: %s.", cluster)
	}
	invalid := func(format string, args ...any) *apiError {
		return errorf(http.StatusUnauthorized, "InvalidTokenException", format, args...)
	}
	if in.Token == "" {
		return nil, eksInvalid("token is required")
	}
	claims, aerr := verifyWebIdentityToken(in.Token, e.opts.ServiceAccountPublicKeyPEM)
	if aerr != nil {
		return nil, invalid("%s", aerr.Message)
	}
	var k8s podIdentityClaims
	if tok, err := jwt.ParseSigned(in.Token, webIdentityAlgorithms); err == nil {
		_ = tok.UnsafeClaimsWithoutVerification(&k8s) // the signature was verified above
	}
	if strings.TrimSuffix(claims.Issuer, "/") != strings.TrimSuffix(e.opts.OIDCIssuerURL, "/") {
		return nil, invalid("The token's issuer %s is not the cluster's", claims.Issuer)
	}
	if !claims.Audience.Contains(PodIdentityAudience) {
		return nil, invalid("The token's audience %v does not include %s", []string(claims.Audience), PodIdentityAudience)
	}
	now := e.opts.Clock.Now()
	if aerr := checkTokenTimes(claims, now); aerr != nil {
		if aerr.Code == "ExpiredTokenException" {
			return nil, errorf(http.StatusBadRequest, "ExpiredTokenException", "%s", aerr.Message)
		}
		return nil, invalid("%s", aerr.Message)
	}
	rest, ok := strings.CutPrefix(claims.Subject, "system:serviceaccount:")
	ns, sa, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return nil, invalid("The token's subject %s is not a service account", claims.Subject)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.state.eks.association(ns, sa)
	if a == nil {
		return nil, errorf(http.StatusNotFound, "ResourceNotFoundException", "No Pod Identity association found for service account %s in namespace %s", sa, ns)
	}
	role := e.state.iam.roleByARN(a.RoleArn)
	denied := errorf(http.StatusForbidden, "AccessDeniedException", "The role %s does not trust %s to perform sts:AssumeRole and sts:TagSession", a.RoleArn, PodIdentityServicePrincipal)
	if role == nil {
		return nil, denied
	}
	for _, action := range []string{"sts:AssumeRole", "sts:TagSession"} {
		if !trustAllows(role.trust, "Service", PodIdentityServicePrincipal, action, map[string][]string{}) {
			return nil, denied
		}
	}
	sessionName := "eks-" + cluster + "-" + k8s.Kubernetes.Pod.Name
	if len(sessionName) > 64 {
		sessionName = sessionName[:64]
	}
	sess := e.newSession(role, sessionName, now.Add(podIdentityCredentialLifetime))
	if !a.DisableSessionTags {
		sess.tags = map[string]string{
			"eks-cluster-arn": e.eksARN("cluster/" + cluster), "eks-cluster-name": cluster,
			"kubernetes-namespace": ns, "kubernetes-service-account": sa,
			"kubernetes-pod-name": k8s.Kubernetes.Pod.Name, "kubernetes-pod-uid": k8s.Kubernetes.Pod.UID,
		}
	}
	return map[string]any{
		"subject":                map[string]string{"namespace": ns, "serviceAccount": sa},
		"audience":               PodIdentityAudience,
		"podIdentityAssociation": map[string]string{"associationArn": a.AssociationArn, "associationId": a.AssociationID},
		"assumedRoleUser":        map[string]string{"arn": sess.assumedRoleArn, "assumeRoleId": role.id + ":" + sessionName},
		"credentials": map[string]any{"accessKeyId": sess.accessKeyID, "secretAccessKey": sess.secretAccessKey,
			"sessionToken": sess.sessionToken, "expiration": float64(sess.expires.Unix())},
	}, nil
}
