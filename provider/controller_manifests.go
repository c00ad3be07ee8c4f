package provider

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
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
)

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
}

// clusterRoleName is the name of the ClusterRole and ClusterRoleBinding of an installation.
func clusterRoleName(namespace string) string { return "karpenter-" + namespace }

func selectorLabels() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"}
}

func commonLabels() map[string]string {
	l := selectorLabels()
	l[managedByLabel] = "terraform"
	return l
}

// provisionerCRD decodes the embedded Provisioner CRD.
func provisionerCRD() (*apiextensionsv1.CustomResourceDefinition, error) {
	return decodeCRD("Provisioner", crds.Provisioner)
}

// controllerCRDs decodes every embedded CRD the controller needs, in installation order:
// Provisioner (karpenter.sh/v1alpha5), NodeClaim (karpenter.sh/v1).
// Errors: an embedded manifest that does not decode (a build defect).
func controllerCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, c := range []struct {
		kind string
		yaml []byte
	}{{"Provisioner", crds.Provisioner}, {"NodeClaim", crds.NodeClaim}} {
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

// controllerObjects returns every object of the installation except the CRD and the
// namespace (see namespaceObject), in creation order: ServiceAccount, ClusterRole,
// ClusterRoleBinding, Role, RoleBinding, Deployment.
func controllerObjects(s controllerSettings) []client.Object {
	ns, sa, cr := s.Namespace, s.ServiceAccountName, clusterRoleName(s.Namespace)
	meta := func(name, namespace string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: commonLabels()}
	}
	saMeta := meta(sa, ns)
	if s.ControllerRoleARN != "" {
		saMeta.Annotations = map[string]string{roleARNAnnotation: s.ControllerRoleARN}
	}
	read := []string{"get", "list", "watch"}
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
	}
	replicas := s.Replicas
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: saMeta},
		&rbacv1.ClusterRole{ObjectMeta: meta(cr, ""), Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"karpenter.sh"}, Resources: []string{"provisioners"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
			{APIGroups: []string{"karpenter.sh"}, Resources: []string{"provisioners/status"}, Verbs: []string{"get", "update", "patch"}},
			{APIGroups: []string{"karpenter.sh"}, Resources: []string{"nodeclaims"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			{APIGroups: []string{"karpenter.sh"}, Resources: []string{"nodeclaims/status"}, Verbs: []string{"get", "update", "patch"}},
			{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"pods", "namespaces", "persistentvolumes", "persistentvolumeclaims", "replicationcontrollers"}, Verbs: read},
			{APIGroups: []string{""}, Resources: []string{"pods/eviction"}, Verbs: []string{"create"}},
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
			{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
			{APIGroups: []string{"apps"}, Resources: []string{"daemonsets", "replicasets", "statefulsets", "deployments"}, Verbs: read},
			{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: read},
			{APIGroups: []string{"storage.k8s.io"}, Resources: []string{"storageclasses", "csinodes"}, Verbs: read},
		}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: meta(cr, ""), Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cr}},
		&rbacv1.Role{ObjectMeta: meta("karpenter", ns), Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: read},
		}},
		&rbacv1.RoleBinding{ObjectMeta: meta("karpenter", ns), Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "karpenter"}},
		&appsv1.Deployment{ObjectMeta: meta(deploymentName, ns), Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels()},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: selectorLabels()},
				Spec: corev1.PodSpec{
					ServiceAccountName: sa,
					PriorityClassName:  "system-cluster-critical",
					Containers: []corev1.Container{{
						Name: containerName, Image: s.Image, Args: []string{"controller"}, Env: env,
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
							corev1.ResourceCPU: s.CPURequest, corev1.ResourceMemory: s.MemoryRequest}},
					}},
					// Never schedule the controller onto nodes it manages.
					Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
						NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
							{Key: "karpenter.sh/provisioner-name", Operator: corev1.NodeSelectorOpDoesNotExist}}}}}}},
				},
			},
		}},
	}
}

// deploymentAvailable reports whether the Deployment's current generation is rolled out and
// has the Available condition.
func deploymentAvailable(d *appsv1.Deployment) bool {
	if d.Status.ObservedGeneration < d.Generation {
		return false
	}
	if d.Spec.Replicas != nil && d.Status.UpdatedReplicas < *d.Spec.Replicas {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
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
