package provider

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	kresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/pods"
)

// TestControllerPodSpecRestricted checks the pod the Deployment runs against the restricted
// Pod Security Standard and the chart-like defaults.
func TestControllerPodSpecRestricted(t *testing.T) {
	var diags diag.Diagnostics
	r := &controllerResource{c: &clients{region: "us-east-1"}}
	s := r.settings(context.Background(), controllerModel{Namespace: types.StringValue("karpenter"), ServiceAccountName: types.StringValue("karpenter"),
		Image: types.StringValue("img"), Replicas: types.Int64Value(2)}, &diags)
	if diags.HasError() {
		t.Fatal(diags)
	}
	var d *appsv1.Deployment
	var pdb *policyv1.PodDisruptionBudget
	for _, o := range controllerObjects(s) {
		switch o := o.(type) {
		case *appsv1.Deployment:
			d = o
		case *policyv1.PodDisruptionBudget:
			pdb = o
		}
	}
	if d == nil || pdb == nil {
		t.Fatal("no Deployment or PodDisruptionBudget among the controller's objects")
	}
	if pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PDB maxUnavailable %v, want 1", pdb.Spec.MaxUnavailable)
	}
	spec := d.Spec.Template.Spec
	c := spec.Containers[0]
	sc := c.SecurityContext
	if spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot || *spec.SecurityContext.RunAsUser != 65532 ||
		spec.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v", spec.SecurityContext)
	}
	if !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context %+v", sc)
	}
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Port.StrVal != healthPortName {
		t.Errorf("probes %+v %+v", c.LivenessProbe, c.ReadinessProbe)
	}
	if spec.PriorityClassName != "system-cluster-critical" || len(spec.Tolerations) != 1 || spec.Tolerations[0].Key != "CriticalAddonsOnly" {
		t.Errorf("priority %q tolerations %+v", spec.PriorityClassName, spec.Tolerations)
	}
	anti := spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if len(anti) != 1 || anti[0].LabelSelector == nil || anti[0].LabelSelector.MatchLabels["app.kubernetes.io/name"] != "karpenter" {
		t.Errorf("pod anti-affinity %+v lacks the controller's selector", anti)
	}
	if len(spec.TopologySpreadConstraints) != 1 || spec.TopologySpreadConstraints[0].LabelSelector == nil {
		t.Errorf("topology spread %+v", spec.TopologySpreadConstraints)
	}
	if m := c.Resources.Limits[corev1.ResourceMemory]; m.Cmp(kresource.MustParse("1Gi")) != 0 {
		t.Errorf("memory limit %s, want 1Gi", m.String())
	}
	if _, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		t.Error("a CPU limit by default")
	}
}

// TestReadInstallOptionsKeepsSpelling checks that an affinity written differently from the
// live one (no label selector, other key order) reads back as written, and that live drift
// replaces it.
func TestReadInstallOptionsKeepsSpelling(t *testing.T) {
	written := `{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"topologyKey":"kubernetes.io/hostname"}]}}`
	a, err := parseAffinity(written)
	if err != nil {
		t.Fatal(err)
	}
	m := controllerModel{Affinity: types.StringValue(written), NodeSelector: types.MapNull(types.StringType),
		Env: types.MapNull(types.StringType), Settings: types.MapNull(types.StringType)}
	spec := corev1.PodSpec{Affinity: podAffinity(a)}
	ctr := corev1.Container{Args: []string{"controller", "--registration-timeout=5m"}, Env: []corev1.EnvVar{{Name: envLogLevel, Value: "info"}, {Name: "HTTPS_PROXY", Value: "http://p"}}}
	readInstallOptions(&m, spec, ctr, nil)
	if m.Affinity.ValueString() != written {
		t.Errorf("affinity read back as %s", m.Affinity.ValueString())
	}
	if got := m.Settings.Elements()["registration-timeout"]; got == nil || got.(types.String).ValueString() != "5m" {
		t.Errorf("settings %v", m.Settings)
	}
	if len(m.Env.Elements()) != 1 || m.Env.Elements()["HTTPS_PROXY"] == nil {
		t.Errorf("env %v: want only HTTPS_PROXY", m.Env)
	}
	spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey = "topology.kubernetes.io/zone"
	readInstallOptions(&m, spec, ctr, nil)
	if !strings.Contains(m.Affinity.ValueString(), "topology.kubernetes.io/zone") {
		t.Errorf("drifted affinity read back as %s", m.Affinity.ValueString())
	}
}

// TestImagePullSecrets: image_pull_secrets become the pod's imagePullSecrets in their order
// (none: no field); read back, they keep the order, an omitted attribute stays null when the
// Deployment has none, [] stays [], and secrets added outside Terraform show.
func TestImagePullSecrets(t *testing.T) {
	pod := func(names []string) corev1.PodSpec {
		for _, o := range controllerObjects(controllerSettings{Namespace: "karpenter", ServiceAccountName: "karpenter", ImagePullSecrets: names}) {
			if d, ok := o.(*appsv1.Deployment); ok {
				return d.Spec.Template.Spec
			}
		}
		t.Fatal("no Deployment")
		return corev1.PodSpec{}
	}
	spec := pod([]string{"regcred", "mirror"})
	if want := []corev1.LocalObjectReference{{Name: "regcred"}, {Name: "mirror"}}; !reflect.DeepEqual(spec.ImagePullSecrets, want) {
		t.Errorf("imagePullSecrets %v, want %v", spec.ImagePullSecrets, want)
	}
	if got := pod(nil).ImagePullSecrets; got != nil {
		t.Errorf("imagePullSecrets without image_pull_secrets: %v", got)
	}
	read := func(prior types.List, spec corev1.PodSpec) types.List {
		m := controllerModel{ImagePullSecrets: prior, NodeSelector: types.MapNull(types.StringType),
			Env: types.MapNull(types.StringType), Settings: types.MapNull(types.StringType)}
		readInstallOptions(&m, spec, corev1.Container{}, nil)
		return m.ImagePullSecrets
	}
	if got := read(types.ListNull(types.StringType), spec); !got.Equal(listValue([]string{"regcred", "mirror"})) {
		t.Errorf("read back %v", got)
	}
	if got := read(types.ListNull(types.StringType), pod(nil)); !got.IsNull() {
		t.Errorf("omitted, none live: read back %v, want null", got)
	}
	if got := read(listValue(nil), pod(nil)); got.IsNull() || len(got.Elements()) != 0 {
		t.Errorf("[], none live: read back %v, want []", got)
	}
	if got := read(types.ListNull(types.StringType), pod([]string{"added"})); !got.Equal(listValue([]string{"added"})) {
		t.Errorf("omitted, one added outside Terraform: read back %v", got)
	}
}

// TestControllerInstallOptionsPlanErrors checks plan-time validation: each bad value fails
// the plan naming its attribute.
func TestControllerInstallOptionsPlanErrors(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	cfg := func(body string) string {
		return `resource "karpenter_controller" "test" {
  cluster_name             = "c"
  default_instance_profile = "p"
  ` + body + `
}
`
	}
	cases := []struct{ body, want string }{
		{`settings = { "no-such-flag" = "1" }`, `(?s)settings\["no-such-flag"\].*not a controller flag`},
		{`settings = { "log-level" = "debug" }`, `(?s)settings\["log-level"\].*log_level`},
		{`settings = { "registration-timeout" = "soon" }`, `(?s)settings\["registration-timeout"\].*invalid`},
		{`env = { "LOG_LEVEL" = "debug" }`, `(?s)env\["LOG_LEVEL"\].*set from the resource`},
		{`env = { "1BAD" = "x" }`, `(?s)env\["1BAD"\].*must match`},
		{`affinity = jsonencode({ nodeAffinty = {} })`, `(?s)affinity.*unknown\s+field`},
		{`node_selector = { "bad key!" = "x" }`, `(?s)node_selector\["bad key!"\]`},
		{"resources {\n cpu_request = \"2\"\n cpu_limit = \"1\"\n}", `(?s)resources.cpu_limit.*less than the request`},
		{"resources {\n memory_request = \"2Gi\"\n}", `(?s)exceeds the default\s+memory_limit`},
		{"tolerations = [{ key = \"a\", operator = \"Sometimes\" }]", `(?s)tolerations\[0\].operator`},
		{"topology_spread_constraints = [{ max_skew = 0, topology_key = \"zone\" }]", `(?s)topology_spread_constraints\[0\].max_skew`},
		{"pdb_max_unavailable = 0", `(?s)pdb_max_unavailable`},
		{`image_pull_secrets = ["Regcred"]`, `(?s)Invalid Secret name.*image_pull_secrets\[0\]: "Regcred"`},
		{`image_pull_secrets = ["regcred", "regcred"]`, `(?s)image_pull_secrets.*duplicate values`},
	}
	var steps []resource.TestStep
	for _, c := range cases {
		steps = append(steps, resource.TestStep{Config: cfg(c.body), PlanOnly: true, ExpectError: regexp.MustCompile(c.want)})
	}
	resource.UnitTest(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
}

// TestAccControllerInstallOptions installs the controller with every install option in a
// sandbox with two static nodes: two controller processes run (one per node) and one holds
// the leader Lease; a pending pod gets a launched node and destroy drains and terminates it,
// all with exactly the provider's RBAC (no "forbidden" in either controller's log). Changes
// made outside Terraform to each option plan an update.
func TestAccControllerInstallOptions(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	earlierLogs := controllerPodLogs(t, sb.Dir)
	const addr = "karpenter_controller.test"
	config := controllerAndProvisionerConfig(sb.ClusterName, "info", "30") + `
data "karpenter_cluster" "this" {
  name = "` + sb.ClusterName + `"
}
resource "karpenter_discovery_tags" "this" {
  cluster_name = "` + sb.ClusterName + `"
  resource_ids = concat(tolist(data.karpenter_cluster.this.subnet_ids), [data.karpenter_cluster.this.cluster_security_group_id])
}
`
	config = strings.Replace(config, "depends_on = [karpenter_controller.test]", "depends_on = [karpenter_controller.test, karpenter_discovery_tags.this]", 1)
	config = strings.Replace(config, `  log_level                = "info"`, `  log_level                = "info"
  priority_class_name      = "system-node-critical"
  node_selector            = { "kubernetes.io/os" = "linux" }
  tolerations              = [{ key = "dedicated", value = "system", effect = "NoSchedule" }, { key = "CriticalAddonsOnly", operator = "Exists" }]
  env                      = { "HTTPS_PROXY" = "" , "NO_PROXY" = "127.0.0.1" }
  settings                 = { "registration-timeout" = "10m", "kube-client-qps" = "100" }`, 1)
	config = strings.Replace(config, `    memory_request = "128Mi"`, `    memory_request = "128Mi"
    cpu_limit      = "2"
    memory_limit   = "512Mi"`, 1)
	deployment := func() (*appsv1.Deployment, error) {
		var d appsv1.Deployment
		return &d, kc.Get(ctx, controllerDeployment, &d)
	}
	checkDeployment := func(*terraform.State) error {
		d, err := deployment()
		if err != nil {
			return err
		}
		spec := d.Spec.Template.Spec
		c := spec.Containers[0]
		if *d.Spec.Replicas != 2 || spec.PriorityClassName != "system-node-critical" || spec.NodeSelector["kubernetes.io/os"] != "linux" ||
			len(spec.Tolerations) != 2 || envValue(c, "NO_PROXY") != "127.0.0.1" ||
			strings.Join(c.Args, " ") != "controller --kube-client-qps=100 --registration-timeout=10m" {
			return fmt.Errorf("deployment does not carry the options: replicas %d, priority %q, nodeSelector %v, tolerations %v, args %v",
				*d.Spec.Replicas, spec.PriorityClassName, spec.NodeSelector, spec.Tolerations, c.Args)
		}
		if l := c.Resources.Limits[corev1.ResourceMemory]; l.Cmp(kresource.MustParse("512Mi")) != 0 {
			return fmt.Errorf("memory limit %s", l.String())
		}
		return nil
	}
	update := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}}
	editDeployment := func(edit func(*appsv1.Deployment)) func() {
		return func() {
			d, err := deployment()
			must(t, err)
			edit(d)
			must(t, kc.Update(ctx, d))
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, Check: resource.ComposeAggregateTestCheckFunc(checkDeployment,
				resource.TestCheckResourceAttr(addr, "replicas", "2"), resource.TestCheckResourceAttr(addr, "pdb_max_unavailable", "1"),
				checkTwoControllersOneLeader(kc, sb.Dir), checkLaunchAndRemove(t, kc))},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: "karpenter", ImportStateVerifyIgnore: []string{"timeouts"}},
			{PreConfig: editDeployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.PriorityClassName = "" }), Config: config, ConfigPlanChecks: update, Check: checkDeployment},
			{PreConfig: editDeployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Tolerations = nil }), Config: config, ConfigPlanChecks: update, Check: checkDeployment},
			{PreConfig: editDeployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.NodeSelector = nil }), Config: config, ConfigPlanChecks: update, Check: checkDeployment},
			{PreConfig: editDeployment(func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Args = []string{"controller", "--kube-client-qps=5"}
			}), Config: config, ConfigPlanChecks: update, Check: checkDeployment},
			{PreConfig: editDeployment(func(d *appsv1.Deployment) {
				c := &d.Spec.Template.Spec.Containers[0]
				c.Env = append(c.Env, corev1.EnvVar{Name: "EXTRA", Value: "1"})
			}), Config: config, ConfigPlanChecks: update, Check: checkDeployment},
			{PreConfig: editDeployment(func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Affinity.PodAntiAffinity = nil
			}), Config: config, ConfigPlanChecks: update, Check: checkDeployment},
			{PreConfig: editDeployment(func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.Containers[0].Resources.Limits = nil
			}), Config: config, ConfigPlanChecks: update, Check: checkDeployment},
			{PreConfig: func() {
				var pdb policyv1.PodDisruptionBudget
				must(t, kc.Get(ctx, client.ObjectKey{Namespace: "karpenter", Name: deploymentName}, &pdb))
				pdb.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(2))
				must(t, kc.Update(ctx, &pdb))
			}, Config: config, ConfigPlanChecks: update, Check: resource.TestCheckResourceAttr(addr, "pdb_max_unavailable", "1")},
		},
		CheckDestroy: func(s *terraform.State) error {
			if err := checkKarpenterNamespaceGone(kc)(s); err != nil {
				return err
			}
			return checkNoForbidden(sb.Dir, earlierLogs)
		},
	})
}

// checkTwoControllersOneLeader waits until two controller pods run on different nodes, both
// processes (logs under stateDir) compete for the leader election Lease and exactly one
// acquires it.
func checkTwoControllersOneLeader(kc client.Client, stateDir string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var pl corev1.PodList
		var state string
		err := wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			if err := kc.List(ctx, &pl, client.InNamespace("karpenter"), client.MatchingLabels(selectorLabels())); err != nil {
				return false, err
			}
			nodes := map[string]bool{}
			attempting, leaders := 0, 0
			for _, p := range pl.Items {
				if p.Status.Phase != corev1.PodRunning {
					continue
				}
				nodes[p.Spec.NodeName] = true
				b, err := os.ReadFile(pods.LogPath(stateDir, p.Namespace, p.Name))
				if err != nil {
					continue // not started yet
				}
				if strings.Contains(string(b), "Attempting to acquire leader lease") {
					attempting++
				}
				if strings.Contains(string(b), "Successfully acquired lease") {
					leaders++
				}
			}
			state = fmt.Sprintf("%d pods on %d nodes, %d processes competing, %d leaders", len(pl.Items), len(nodes), attempting, leaders)
			return len(nodes) == 2 && attempting == 2 && leaders == 1, nil
		})
		if err != nil {
			return fmt.Errorf("two controllers on two nodes, one leader: %w (%s)", err, state)
		}
		return nil
	}
}

// checkLaunchAndRemove creates a pod that fits on no existing node and waits until it runs
// on a node the controller launched; the pod is deleted again (destroy removes the node).
func checkLaunchAndRemove(t *testing.T, kc client.Client) resource.TestCheckFunc {
	return func(*terraform.State) error {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "acc-install-options"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: kresource.MustParse("3")}}}}}}
		if err := kc.Create(ctx, pod); err != nil {
			return err
		}
		t.Cleanup(func() { _ = kc.Delete(context.Background(), pod) })
		err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
			if err := kc.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
				return false, err
			}
			return pod.Spec.NodeName != "" && pod.Status.Phase == corev1.PodRunning, nil
		})
		if err != nil {
			return fmt.Errorf("pending pod not running on a launched node: %w", err)
		}
		var n corev1.Node
		if err := kc.Get(ctx, client.ObjectKey{Name: pod.Spec.NodeName}, &n); err != nil {
			return err
		}
		if n.Labels["karpenter.sh/provisioner-name"] != "acc" {
			return fmt.Errorf("pod runs on %s, not on a node of provisioner acc", n.Name)
		}
		return nil
	}
}

// controllerPodLogs returns the names of the controller pod logs under stateDir/pods
// (karpenter_<pod>.log, one per pod the sandbox ran) that exist now.
func controllerPodLogs(t *testing.T, stateDir string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	entries, err := os.ReadDir(stateDir + "/pods")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		names[e.Name()] = true
	}
	return names
}

// checkNoForbidden fails when the log of a controller pod this test started (one not in
// earlier: the sandbox is shared, and other tests damage RBAC on purpose) records a request
// the API server refused for lack of permission.
func checkNoForbidden(stateDir string, earlier map[string]bool) error {
	logs, err := os.ReadDir(stateDir + "/pods")
	if err != nil {
		return err
	}
	seen := 0
	for _, e := range logs {
		if earlier[e.Name()] || !strings.HasPrefix(e.Name(), "karpenter_karpenter-") || !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		seen++
		b, err := os.ReadFile(stateDir + "/pods/" + e.Name())
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			// Sandbox artefact: kwok removes a deleted pod at once, before its process has
			// exited (a kubelet waits), so destroy may delete the Role while the stopping
			// controller releases its Lease.
			if strings.Contains(line, "tryRelease") {
				continue
			}
			if strings.Contains(line, "forbidden") || strings.Contains(line, "Forbidden") {
				return fmt.Errorf("%s: %s", e.Name(), line)
			}
		}
	}
	if seen == 0 {
		return fmt.Errorf("no controller pod logs under %s/pods", stateDir)
	}
	return nil
}
