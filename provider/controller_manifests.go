package provider

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/webhook"
)

// Environment variables of the controller container (read by controller/operator).
const (
	envClusterName            = "CLUSTER_NAME"
	envClusterEndpoint        = "CLUSTER_ENDPOINT"
	envDefaultInstanceProfile = "AWS_DEFAULT_INSTANCE_PROFILE"
	envRegion                 = "AWS_REGION"
	envLogLevel               = "LOG_LEVEL"
	envBatchIdle              = "BATCH_IDLE_DURATION"
	envBatchMax               = "BATCH_MAX_DURATION"
	envPodNamespace           = "POD_NAMESPACE"
	envDefaultTags            = "DEFAULT_TAGS" // the provider's default_tags as a JSON object, when there are any
	envWebhookService         = "WEBHOOK_SERVICE"
	envWebhookConfiguration   = "WEBHOOK_CONFIGURATION"

	// roleARNAnnotation binds a service account to an IAM role (EKS IRSA).
	roleARNAnnotation = "eks.amazonaws.com/role-arn"
	deploymentName    = "karpenter"
	containerName     = "controller"
	managedByLabel    = "app.kubernetes.io/managed-by"

	// createdByAnnotation marks a namespace that karpenter_controller created (value
	// createdByController), so that it is removed on destroy and recognised again after an
	// import or a re-create; namespaces without it are adopted and never changed.
	createdByAnnotation = "terraform-provider-karpenter/created-by"
	createdByController = "karpenter_controller"

	// installIDAnnotation on the controller Deployment carries the random id of the
	// karpenter_controller resource instance that applied it (kept in the resource's private
	// state, key installIDKey): when a create_before_destroy replacement has re-applied the
	// installation in the same namespace, the old instance's Delete finds another id and leaves
	// the installation to the new one.
	installIDAnnotation = "terraform-provider-karpenter/install-id"
	installIDKey        = "install_id"
	// updateFailedKey in private state marks an install_complete = false that a failed update
	// (a rollout that did not complete) wrote, not a failed create: the installation was
	// complete once, so its destroy is that of a complete one (see Delete).
	updateFailedKey = "update_failed"

	// credentialsAnnotation on the controller's pod template names the credential source its
	// pods start with: "irsa <role ARN>" when the service account carries roleARNAnnotation,
	// else "default" (EKS Pod Identity, or the node's). EKS injects a pod's AWS credentials
	// (AWS_ROLE_ARN and a web identity token, or the Pod Identity agent's URL) when the pod is
	// created, so a change of controller_role_arn changes the pod template: the Deployment
	// rolls and the new pods get the new credentials.
	credentialsAnnotation = "terraform-provider-karpenter/credentials"

	// serviceAccountUIDAnnotation on the controller's pod template is the UID of the service
	// account the pods run as, set when the installation is applied. A pod's service account
	// token names that UID, and the API server refuses it once the account is deleted, even if
	// an account of the same name is created again; so when apply re-creates an account deleted
	// out of band, the template changes and the Deployment rolls, and the new pods get tokens
	// of the new account (found by a user trial: the old pods failed with Unauthorized while the
	// plan was empty).
	serviceAccountUIDAnnotation = "terraform-provider-karpenter/service-account-uid"
)

// credentialsValue is credentialsAnnotation's value for the controller role ARN roleARN.
func credentialsValue(roleARN string) string {
	if roleARN == "" {
		return "default"
	}
	return "irsa " + roleARN
}

// controllerSettings is the desired installation, converted from the HCL model.
type controllerSettings struct {
	Namespace              string
	ServiceAccountName     string
	ClusterName            string
	ClusterEndpoint        string
	ControllerRoleARN      string
	DefaultInstanceProfile string
	Region                 string
	Image                  string
	Replicas               int32
	LogLevel               string
	BatchIdleSeconds       int64
	BatchMaxSeconds        int64
	CPURequest             resource.Quantity
	MemoryRequest          resource.Quantity
	CPULimit               *resource.Quantity // nil: no CPU limit
	MemoryLimit            *resource.Quantity // nil: no memory limit
	PriorityClassName      string
	NodeSelector           map[string]string
	ImagePullSecrets       []string // names of Secrets in Namespace, the pod's imagePullSecrets in this order
	Tolerations            []corev1.Toleration
	TopologySpread         []corev1.TopologySpreadConstraint // label selectors are added (spreadConstraints)
	Affinity               *corev1.Affinity                  // pod terms without a selector get one (podAffinity)
	PDBMaxUnavailable      int32
	ExtraEnv               map[string]string // added after the managed variables
	Settings               map[string]string // controller flag name -> value, as --name=value arguments
	InstallID              string            // installIDAnnotation of the Deployment; empty: none
	DefaultTags            map[string]string // the provider's default_tags, for everything the controller launches
}

// clusterRoleName is the name of the ClusterRole and ClusterRoleBinding of an installation.
func clusterRoleName(namespace string) string { return "karpenter-" + namespace }

// webhookConfigurationName is the name of the installation's ValidatingWebhookConfiguration
// (cluster-scoped, so per namespace like the ClusterRole).
func webhookConfigurationName(namespace string) string { return "karpenter-" + namespace }

// webhookServiceName is the Service in front of the controller's webhook port, in its
// namespace; the controller issues its serving certificate for <name>.<namespace>.svc.
const webhookServiceName = "karpenter"

// webhookTimeoutSeconds bounds each call of the API server to the webhook.
const webhookTimeoutSeconds = 10

// webhookConfiguration is the installation's ValidatingWebhookConfiguration: Provisioner
// CREATE and UPDATE go to the controller's webhook (controller/webhook: the user data checks the
// CRD cannot express) through the Service. The caBundle is left to the controller, which
// issues the certificate and writes its CA there. failurePolicy Ignore: while no replica
// answers (an install starting, a controller being replaced or destroyed), Provisioner changes
// are not blocked; `terraform plan` and the controller's check before each launch refuse the
// same user data, so nothing invalid is ever launched from.
func webhookConfiguration(meta metav1.ObjectMeta, namespace string) *admissionregistrationv1.ValidatingWebhookConfiguration {
	return &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: meta, Webhooks: []admissionregistrationv1.ValidatingWebhook{{
		Name: webhook.ProvisionerWebhookName,
		ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
			Namespace: namespace, Name: webhookServiceName, Path: ptr.To(webhook.ProvisionerPath), Port: ptr.To[int32](443)}},
		Rules: []admissionregistrationv1.RuleWithOperations{{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule: admissionregistrationv1.Rule{APIGroups: []string{v1alpha5.SchemeGroupVersion.Group}, APIVersions: []string{v1alpha5.SchemeGroupVersion.Version},
				Resources: []string{"provisioners"}, Scope: ptr.To(admissionregistrationv1.ClusterScope)},
		}},
		FailurePolicy:           ptr.To(admissionregistrationv1.Ignore),
		MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
		NamespaceSelector:       &metav1.LabelSelector{},
		ObjectSelector:          &metav1.LabelSelector{},
		SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
		TimeoutSeconds:          ptr.To[int32](webhookTimeoutSeconds),
		AdmissionReviewVersions: []string{"v1"},
	}}}
}

// certSecretMeta is m with webhook.CertificateSecretAnnotation: the controller writes its
// certificate only into a Secret carrying it.
func certSecretMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	m.Annotations = map[string]string{webhook.CertificateSecretAnnotation: webhookServiceName}
	return m
}

// webhookService is the ClusterIP Service the API server reaches the webhook through: port 443
// to the controller pods' container port webhookPortName.
func webhookService(meta metav1.ObjectMeta) *corev1.Service {
	return &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
		Type:     corev1.ServiceTypeClusterIP,
		Selector: selectorLabels(),
		Ports: []corev1.ServicePort{{Name: webhookPortName, Port: 443, Protocol: corev1.ProtocolTCP,
			TargetPort: intstr.FromString(webhookPortName)}},
	}}
}

func selectorLabels() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"}
}

func commonLabels() map[string]string {
	l := selectorLabels()
	l[managedByLabel] = "terraform"
	return l
}

// crdManifests are the CRDs this provider version installs (YAML, package crds), in
// installation order. A variable so that tests can install another version's CRDs.
var crdManifests = []struct {
	kind string
	yaml []byte
}{{"Provisioner", crds.Provisioner}, {"NodeClaim", crds.NodeClaim}}

// provisionerCRD decodes the embedded Provisioner CRD.
func provisionerCRD() (*apiextensionsv1.CustomResourceDefinition, error) {
	return decodeCRD("Provisioner", crds.Provisioner)
}

// controllerCRDs decodes every embedded CRD the controller needs, in installation order:
// Provisioner (karpenter.sh/v1alpha5), NodeClaim (karpenter.sh/v1).
// Errors: an embedded manifest that does not decode (a build defect).
func controllerCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, c := range crdManifests {
		crd, err := decodeCRD(c.kind, c.yaml)
		if err != nil {
			return nil, err
		}
		out = append(out, crd)
	}
	return out, nil
}

func decodeCRD(kind string, manifest []byte) (*apiextensionsv1.CustomResourceDefinition, error) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(manifest, &crd); err != nil {
		return nil, fmt.Errorf("embedded %s CRD: %w", kind, err)
	}
	return &crd, nil
}

// namespaceObject is the namespace karpenter_controller creates when it is absent: labelled
// like the other objects and annotated createdByAnnotation.
func namespaceObject(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: commonLabels(),
		Annotations: map[string]string{createdByAnnotation: createdByController}}}
}

// deploymentMeta is m with installIDAnnotation set to id (unless id is empty).
func deploymentMeta(m metav1.ObjectMeta, id string) metav1.ObjectMeta {
	if id != "" {
		m.Annotations = map[string]string{installIDAnnotation: id}
	}
	return m
}

// controllerObjects returns every object of the installation except the CRD and the
// namespace (see namespaceObject), in creation order: ServiceAccount, ClusterRole,
// ClusterRoleBinding, Role, RoleBinding, PodDisruptionBudget, the webhook's certificate
// Secret (empty), Service and ValidatingWebhookConfiguration, Deployment.
func controllerObjects(s controllerSettings) []client.Object {
	ns, sa, cr := s.Namespace, s.ServiceAccountName, clusterRoleName(s.Namespace)
	meta := func(name, namespace string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: commonLabels()}
	}
	saMeta := meta(sa, ns)
	if s.ControllerRoleARN != "" {
		saMeta.Annotations = map[string]string{roleARNAnnotation: s.ControllerRoleARN}
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}}
	env := []corev1.EnvVar{
		{Name: envClusterName, Value: s.ClusterName},
		{Name: envClusterEndpoint, Value: s.ClusterEndpoint},
		{Name: envDefaultInstanceProfile, Value: s.DefaultInstanceProfile},
		{Name: envRegion, Value: s.Region},
		{Name: envLogLevel, Value: s.LogLevel},
		{Name: envBatchIdle, Value: strconv.FormatInt(s.BatchIdleSeconds, 10) + "s"},
		{Name: envBatchMax, Value: strconv.FormatInt(s.BatchMaxSeconds, 10) + "s"},
		// The leader election Lease lives in the pod's namespace (where the Role grants leases).
		{Name: envPodNamespace, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		{Name: envWebhookService, Value: webhookServiceName},
		{Name: envWebhookConfiguration, Value: webhookConfigurationName(ns)},
	}
	if len(s.DefaultTags) > 0 {
		b, _ := json.Marshal(s.DefaultTags) // map keys sorted: the same tags give the same pod template
		env = append(env, corev1.EnvVar{Name: envDefaultTags, Value: string(b)})
	}
	for _, name := range slices.Sorted(maps.Keys(s.ExtraEnv)) {
		env = append(env, corev1.EnvVar{Name: name, Value: s.ExtraEnv[name]})
	}
	replicas := s.Replicas
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: saMeta},
		&rbacv1.ClusterRole{ObjectMeta: meta(cr, ""), Rules: controllerClusterRules(webhookConfigurationName(ns))},
		&rbacv1.ClusterRoleBinding{ObjectMeta: meta(cr, ""), Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cr}},
		&rbacv1.Role{ObjectMeta: meta("karpenter", ns), Rules: controllerNamespaceRules()},
		&rbacv1.RoleBinding{ObjectMeta: meta("karpenter", ns), Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "karpenter"}},
		&policyv1.PodDisruptionBudget{ObjectMeta: meta(deploymentName, ns), Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(s.PDBMaxUnavailable)),
			Selector:       &metav1.LabelSelector{MatchLabels: selectorLabels()},
		}},
		// Empty: the controller fills it (controller/webhook.Certificates) and may only read and
		// update it; data, written by the controller, is never applied here.
		&corev1.Secret{ObjectMeta: certSecretMeta(meta(webhookCertSecret, ns)), Type: corev1.SecretTypeOpaque},
		webhookService(meta(webhookServiceName, ns)),
		webhookConfiguration(meta(webhookConfigurationName(ns), ""), ns),
		&appsv1.Deployment{ObjectMeta: deploymentMeta(meta(deploymentName, ns), s.InstallID), Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels()},
			// As the Helm chart: with one replica per node (the default anti-affinity) a surge pod
			// has nowhere to go, so a rollout replaces one pod at a time.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: selectorLabels(),
					Annotations: map[string]string{credentialsAnnotation: credentialsValue(s.ControllerRoleARN)}},
				Spec: controllerPodSpec(s, env),
			},
		}},
	}
}

// controllerPodSpec is the controller's pod: one container running `controller` with the
// settings as arguments, probes on the health port, and the restricted Pod Security Standard
// (https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted): non-root
// user 65532 (the image's), no privilege escalation, every capability dropped, the runtime's
// default seccomp profile and a read-only root filesystem (the controller writes no files).
func controllerPodSpec(s controllerSettings, env []corev1.EnvVar) corev1.PodSpec {
	resources := corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: s.CPURequest, corev1.ResourceMemory: s.MemoryRequest}}
	if s.CPULimit != nil || s.MemoryLimit != nil {
		resources.Limits = corev1.ResourceList{}
		if s.CPULimit != nil {
			resources.Limits[corev1.ResourceCPU] = *s.CPULimit
		}
		if s.MemoryLimit != nil {
			resources.Limits[corev1.ResourceMemory] = *s.MemoryLimit
		}
	}
	probe := func(path string, initialDelay int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(healthPortName), Scheme: corev1.URISchemeHTTP}},
			InitialDelaySeconds: initialDelay, TimeoutSeconds: 30, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
		}
	}
	uid := int64(controllerUID)
	return corev1.PodSpec{
		ServiceAccountName:        s.ServiceAccountName,
		PriorityClassName:         s.PriorityClassName,
		NodeSelector:              s.NodeSelector,
		ImagePullSecrets:          imagePullSecrets(s.ImagePullSecrets),
		Tolerations:               s.Tolerations,
		Affinity:                  podAffinity(s.Affinity),
		TopologySpreadConstraints: spreadConstraints(s.TopologySpread),
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid,
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Containers: []corev1.Container{{
			Name: containerName, Image: s.Image, Args: append([]string{"controller"}, settingsArgs(s.Settings)...), Env: env,
			Ports: []corev1.ContainerPort{
				{Name: metricsPortName, ContainerPort: metricsPort, Protocol: corev1.ProtocolTCP},
				{Name: healthPortName, ContainerPort: healthPort, Protocol: corev1.ProtocolTCP},
				{Name: webhookPortName, ContainerPort: webhook.DefaultPort, Protocol: corev1.ProtocolTCP},
			},
			LivenessProbe:  probe("/healthz", 30),
			ReadinessProbe: probe("/readyz", 5),
			Resources:      resources,
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot: ptr.To(true), RunAsUser: &uid, RunAsGroup: &uid,
				AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
				Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		}},
	}
}

// imagePullSecrets is the pod's imagePullSecrets of the named Secrets, in their order; nil for
// none (as the API server stores an empty list).
func imagePullSecrets(names []string) []corev1.LocalObjectReference {
	if len(names) == 0 {
		return nil
	}
	out := make([]corev1.LocalObjectReference, 0, len(names))
	for _, n := range names {
		out = append(out, corev1.LocalObjectReference{Name: n})
	}
	return out
}

// controllerClusterRules are the controller's cluster-wide permissions: exactly the calls it
// makes (its client's Get/List/Watch through controller-runtime's cache, Create, Patch, Delete
// and the eviction and status subresources) and nothing more. Compared with the Karpenter Helm
// chart's ClusterRole, it lacks what this controller does not do (no mutating or conversion
// webhooks, only its own validating configuration webhookName and only get and update of its
// caBundle, no node updates beyond patches, no reads of Deployments, ReplicaSets,
// StatefulSets or PodDisruptionBudgets: evictions are refused by the API server, not
// predicted).
func controllerClusterRules(webhookName string) []rbacv1.PolicyRule {
	read := []string{"get", "list", "watch"}
	return []rbacv1.PolicyRule{
		// provisioning, deprovisioning and termination watch Provisioners; status.go patches status.
		{APIGroups: []string{"karpenter.sh"}, Resources: []string{"provisioners"}, Verbs: read},
		{APIGroups: []string{"karpenter.sh"}, Resources: []string{"provisioners/status"}, Verbs: []string{"patch"}},
		// one NodeClaim per launch: created before CreateFleet, finalizers patched, deleted by
		// termination and garbage collection.
		{APIGroups: []string{"karpenter.sh"}, Resources: []string{"nodeclaims"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}},
		{APIGroups: []string{"karpenter.sh"}, Resources: []string{"nodeclaims/status"}, Verbs: []string{"patch"}},
		// registration, emptiness and termination patch nodes (labels, taints, finalizer);
		// deprovisioning and garbage collection delete them.
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch", "patch", "delete"}},
		// pending pods are watched; termination deletes what eviction cannot remove after the
		// grace period.
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"pods/eviction"}, Verbs: []string{"create"}},
		// the solver reads namespaces (pod affinity namespace selectors) and volumes.
		{APIGroups: []string{""}, Resources: []string{"namespaces", "persistentvolumes", "persistentvolumeclaims"}, Verbs: read},
		{APIGroups: []string{"storage.k8s.io"}, Resources: []string{"storageclasses", "csinodes"}, Verbs: read},
		// daemonset overhead of new nodes.
		{APIGroups: []string{"apps"}, Resources: []string{"daemonsets"}, Verbs: read},
		// controller-runtime's recorder writes both event APIs.
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		// the webhook's CA goes into its configuration's caBundle (controller/webhook).
		{APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"validatingwebhookconfigurations"},
			ResourceNames: []string{webhookName}, Verbs: []string{"get", "update"}},
	}
}

// controllerNamespaceRules are the controller's permissions in its own namespace: its leader
// election Lease by name (client-go's LeaseLock gets, creates and updates it; create cannot be
// limited to a name; as the Helm chart, so that in an adopted namespace such as kube-system it
// cannot take over other components' Leases) and the one Secret
// holding the webhook's serving certificate, read and filled by name. It cannot create
// Secrets: this installation creates that one (create cannot be limited to a name, and a
// service-account-token Secret made with it would hand out another account's token).
func controllerNamespaceRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{leaderLeaseName}, Verbs: []string{"get", "update"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{webhookCertSecret}, Verbs: []string{"get", "update"}},
	}
}

// replicaFailureGrace is how long a Deployment's ReplicaFailure condition must have held before
// waiting for its rollout to complete gives up: the API server refusing its pods (a
// ResourceQuota, an admission policy) outlasts it, while a refusal that clears on its own (a
// webhook restarting) does not.
const replicaFailureGrace = 30 * time.Second

// deploymentRefused returns an error naming the reason when the Deployment's ReplicaFailure
// condition (set by the deployment controller when its ReplicaSet cannot create pods, e.g.
// FailedCreate on an exceeded quota) has been True for replicaFailureGrace or longer at now;
// nil otherwise.
func deploymentRefused(d *appsv1.Deployment, now time.Time) error {
	for _, c := range d.Status.Conditions {
		if c.Type != appsv1.DeploymentReplicaFailure || c.Status != corev1.ConditionTrue {
			continue
		}
		if since := c.LastTransitionTime.Time; !since.IsZero() && now.Sub(since) < replicaFailureGrace {
			return nil
		}
		return fmt.Errorf("its pods are refused since %s: %s: %s", c.LastTransitionTime.UTC().Format(time.RFC3339), c.Reason, c.Message)
	}
	return nil
}

// envValue returns the value of env var name of the controller container, or "".
func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
