package operator

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/provisioning"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
)

// scenarioLabel marks every pod of a differential scenario with the scenario's name.
const scenarioLabel = "differential.karpenter.sh/scenario"

// scenario is one workload of the differential suite: the objects to create, how many of its
// pods the solver must refuse, and what must hold of the placement kube-scheduler made.
type scenario struct {
	name    string
	objects func(name string) []client.Object
	// unplaceable is the number of pods the solver must report as fitting nowhere: they stay
	// Pending with a FailedProvisioning event, and no node is launched for them.
	unplaceable int
	// loose accepts a binding that differs from the plan in which node class holds which pods
	// (kube-scheduler's scoring spreads what the solver packs when nodes of several sizes come
	// up together); pods must still all run, and no node may be left empty.
	loose bool
	// emptyOK is how many launched nodes may end up holding none of the scenario's pods.
	// kube-scheduler's topology spread takes its minimum over the domains of the nodes
	// registered so far: a spread pod planned on a node (or in a zone) that registers last may,
	// until it registers, be bound where the plan's other nodes have room, which the solver,
	// planning for every node registered, does not plan. That node is then removed empty.
	emptyOK int
	// check inspects the running pods and their nodes (by name); nil checks nothing more.
	check func(pods []corev1.Pod, nodes map[string]*corev1.Node) error
}

// scenarioDeployment returns a Deployment of replicas pause pods labelled app=app and
// scenario=sc, each requesting cpu, with mutate applied to the pod spec.
func scenarioDeployment(sc, app string, replicas int32, cpu string, mutate func(*corev1.PodSpec)) *appsv1.Deployment {
	labels := map[string]string{"app": app, scenarioLabel: sc}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](0),
					Containers: []corev1.Container{{Name: "pause", Image: "public.ecr.aws/eks-distro/kubernetes/pause:3.7",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}},
				},
			},
		},
	}
	if mutate != nil {
		mutate(&d.Spec.Template.Spec)
	}
	return d
}

func appTerm(topologyKey, app string) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{TopologyKey: topologyKey, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}
}

func antiAffinity(terms ...corev1.PodAffinityTerm) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		s.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}}
	}
}

func podAffinity(terms ...corev1.PodAffinityTerm) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		s.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}}
	}
}

func spreadOn(key, app string, maxSkew int32) func(*corev1.PodSpec) {
	return spreadWhen(key, app, maxSkew, corev1.DoNotSchedule)
}

// distinct returns an error unless the pods of app are on want distinct values of node label key.
func distinct(app, key string, want int) func([]corev1.Pod, map[string]*corev1.Node) error {
	return func(pods []corev1.Pod, nodes map[string]*corev1.Node) error {
		values := map[string]int{}
		for _, p := range pods {
			if p.Labels["app"] == app {
				values[nodes[p.Spec.NodeName].Labels[key]]++
			}
		}
		if len(values) != want {
			return fmt.Errorf("pods of %s on %d values of %s, want %d: %v", app, len(values), key, want, values)
		}
		return nil
	}
}

// differentialScenarios are the workloads of TestDifferential, one or more per constraint the
// solver models, and a mix.
func differentialScenarios() []scenario {
	one := func(d *appsv1.Deployment) func(string) []client.Object {
		return func(string) []client.Object { return []client.Object{d} }
	}
	return []scenario{
		{name: "hostname-anti-affinity", objects: one(scenarioDeployment("hostname-anti-affinity", "hanti", 3, "250m", antiAffinity(appTerm(corev1.LabelHostname, "hanti")))),
			check: distinct("hanti", corev1.LabelHostname, 3)},
		{name: "instance-cpu-gt", objects: one(scenarioDeployment("instance-cpu-gt", "sized", 1, "500m", func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: v1alpha5.LabelInstanceCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{"3"}}}}}}}}
		}))},
		{name: "hostname-spread", objects: one(scenarioDeployment("hostname-spread", "hspread", 2, "250m", spreadOn(corev1.LabelHostname, "hspread", 1))),
			check: distinct("hspread", corev1.LabelHostname, 2)},
		{name: "zone-spread", objects: one(scenarioDeployment("zone-spread", "zspread", 6, "500m", spreadOn(v1alpha5.LabelZone, "zspread", 1))),
			check: distinct("zspread", v1alpha5.LabelZone, 3)},
		{name: "zone-anti-affinity", objects: one(scenarioDeployment("zone-anti-affinity", "zanti", 4, "250m", antiAffinity(appTerm(v1alpha5.LabelZone, "zanti")))),
			unplaceable: 1, check: distinct("zanti", v1alpha5.LabelZone, 3)},
		{name: "zone-self-affinity", objects: one(scenarioDeployment("zone-self-affinity", "zaff", 4, "1500m", podAffinity(appTerm(v1alpha5.LabelZone, "zaff")))),
			check: distinct("zaff", v1alpha5.LabelZone, 1)},
		{name: "capacity-type-anti-affinity", objects: one(scenarioDeployment("capacity-type-anti-affinity", "ctanti", 2, "250m",
			antiAffinity(appTerm(v1alpha5.LabelCapacityType, "ctanti")))),
			check: distinct("ctanti", v1alpha5.LabelCapacityType, 2)},
		{name: "host-ports", objects: one(scenarioDeployment("host-ports", "ports", 3, "250m", func(s *corev1.PodSpec) {
			s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 8080, Protocol: corev1.ProtocolTCP}}
		})), check: distinct("ports", corev1.LabelHostname, 3)},
		{name: "zone-selector", objects: one(scenarioDeployment("zone-selector", "pinned", 2, "1", func(s *corev1.PodSpec) {
			s.NodeSelector = map[string]string{v1alpha5.LabelZone: catalog.ZoneC, v1alpha5.LabelCapacityType: v1alpha5.CapacityTypeOnDemand}
		}))},
		{name: "preferences", objects: func(sc string) []client.Object {
			return []client.Object{
				scenarioDeployment(sc, "pref-zone", 2, "500m", func(s *corev1.PodSpec) {
					s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
						preferZone(50, catalog.ZoneB)}}}
				}),
				scenarioDeployment(sc, "pref-anti", 3, "250m", func(s *corev1.PodSpec) {
					s.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
						Weight: 100, PodAffinityTerm: appTerm(corev1.LabelHostname, "pref-anti")}}}}
				}),
			}
		}, loose: true, check: func(pods []corev1.Pod, nodes map[string]*corev1.Node) error {
			for _, p := range pods {
				if z := nodes[p.Spec.NodeName].Labels[v1alpha5.LabelZone]; p.Labels["app"] == "pref-zone" && z != catalog.ZoneB {
					return fmt.Errorf("pod %s in %s, preferred %s", p.Name, z, catalog.ZoneB)
				}
			}
			return distinct("pref-anti", corev1.LabelHostname, 3)(pods, nodes)
		}},
		// A hostname spread whose selector also counts pods that do not carry it: the solver
		// packs its pods onto nodes without the other counted pods (which kube-scheduler, binding
		// those first, would find over the skew) and fills the rest of those nodes with others.
		{name: "hostname-spread-counting-others", objects: func(sc string) []client.Object {
			role := map[string]string{"role": sc}
			withRole := func(d *appsv1.Deployment) *appsv1.Deployment {
				d.Spec.Template.Labels["role"] = sc
				return d
			}
			return []client.Object{
				withRole(scenarioDeployment(sc, "front-spread", 3, "300m", func(s *corev1.PodSpec) {
					s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelHostname,
						WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: role}}}
				})),
				withRole(scenarioDeployment(sc, "front-plain", 3, "400m", nil)),
				scenarioDeployment(sc, "back", 4, "500m", nil),
			}
		}, loose: true, emptyOK: 1},
		// A zone spread that counts another Deployment's pods, not its own: the solver places the
		// counted pods first, in the cheapest zone, and the spread pods where the counted pods
		// leave them within the skew whatever kube-scheduler binds first (the counted pods'
		// nodes are planned without room for them: kube-scheduler binding one of them beside
		// the spread pods would put their zone over the skew).
		{name: "zone-spread-counting-others", objects: func(sc string) []client.Object {
			tier := map[string]string{"tier": sc}
			counted := scenarioDeployment(sc, "zone-counted", 4, "400m", nil)
			counted.Spec.Template.Labels["tier"] = sc
			return []client.Object{
				counted,
				scenarioDeployment(sc, "zone-spreading", 3, "300m", func(s *corev1.PodSpec) {
					s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: v1alpha5.LabelZone,
						WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: tier}}}
				}),
			}
		}, loose: true, emptyOK: 1},
		legacyLabelsScenario(),
		{name: "mix", objects: func(sc string) []client.Object {
			return []client.Object{
				scenarioDeployment(sc, "mix-generic", 5, "900m", nil),
				scenarioDeployment(sc, "mix-zspread", 3, "300m", spreadOn(v1alpha5.LabelZone, "mix-zspread", 1)),
				scenarioDeployment(sc, "mix-hanti", 2, "300m", antiAffinity(appTerm(corev1.LabelHostname, "mix-hanti"))),
				scenarioDeployment(sc, "mix-follow", 2, "200m", podAffinity(appTerm(v1alpha5.LabelZone, "mix-zspread"))),
			}
		}, loose: true, check: func(pods []corev1.Pod, nodes map[string]*corev1.Node) error {
			if err := distinct("mix-zspread", v1alpha5.LabelZone, 3)(pods, nodes); err != nil {
				return err
			}
			return distinct("mix-hanti", corev1.LabelHostname, 2)(pods, nodes)
		}},
	}
}

// legacyLabelsScenario has pods select and spread on the legacy label keys that kubelets and
// the AWS cloud provider still set (a user trial: they stayed Pending, "label
// beta.kubernetes.io/os is not defined by the provisioner"): the solver reads them as the GA
// keys, and the nodes register with both, so kube-scheduler binds the pods where planned.
func legacyLabelsScenario() scenario {
	return scenario{name: "legacy-labels", objects: func(sc string) []client.Object {
		return []client.Object{
			scenarioDeployment(sc, "legacy-pinned", 2, "1", func(s *corev1.PodSpec) {
				s.NodeSelector = map[string]string{"beta.kubernetes.io/os": "linux", "failure-domain.beta.kubernetes.io/zone": catalog.ZoneB}
			}),
			scenarioDeployment(sc, "legacy-spread", 3, "500m", spreadOn("failure-domain.beta.kubernetes.io/zone", "legacy-spread", 1)),
		}
	}, loose: true, check: func(pods []corev1.Pod, nodes map[string]*corev1.Node) error {
		for _, n := range nodes {
			if n == nil {
				continue // gone (judgePlacement reports it)
			}
			for legacy, ga := range v1alpha5.LegacyLabels {
				if n.Labels[legacy] == "" || n.Labels[legacy] != n.Labels[ga] {
					return fmt.Errorf("node %s has %s=%q beside %s=%q", n.Name, legacy, n.Labels[legacy], ga, n.Labels[ga])
				}
			}
		}
		if err := inZone("legacy-pinned", catalog.ZoneB)(pods, nodes); err != nil {
			return err
		}
		return distinct("legacy-spread", v1alpha5.LabelZone, 3)(pods, nodes)
	}}
}

// TestDifferential makes kube-scheduler the judge of the solver: for each scenario the
// controller plans and launches, and the real kube-scheduler must bind every pod the solver
// placed to the node the solver predicted (or one of the same instance type, zone and capacity
// type), leave Pending exactly the pods the solver refused, and leave no launched node empty;
// nothing more may be launched once the scenario has settled.
func TestDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox")
	}
	e, done := startOpEnv(t, 20*time.Minute, "-differential-node")
	defer done()
	e.createProvisionerWith([]v1alpha5.NodeSelectorRequirement{{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn,
		Values: []string{v1alpha5.CapacityTypeSpot, v1alpha5.CapacityTypeOnDemand}}})
	// The sandbox is shared with the package's other tests: leave no Provisioner behind.
	defer e.deleteProvisioner("default")

	for _, sc := range append(differentialScenarios(), fidelityScenarios()...) {
		t.Run(sc.name, func(t *testing.T) {
			se := *e
			se.t = t
			se.runScenario(sc)
		})
	}
}

// runScenario creates the scenario's objects, waits for them to settle, judges the placement and
// deletes them again (with the claims of its StatefulSets), waiting until every launched node is
// gone.
func (e *opEnv) runScenario(sc scenario) {
	t, ctx, kube := e.t, e.ctx, e.kube
	since := time.Now().Add(-time.Second)
	objects := sc.objects(sc.name)
	for _, o := range objects {
		if err := kube.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, o := range objects {
			if err := kube.Delete(ctx, o); err != nil {
				t.Error(err)
			}
		}
		if err := kube.DeleteAllOf(ctx, &corev1.PersistentVolumeClaim{}, client.InNamespace("default"),
			client.MatchingLabels{scenarioLabel: sc.name}); err != nil {
			t.Error(err)
		}
		e.waitDeprovisioned()
	}()
	want := 0
	var daemonSets []*appsv1.DaemonSet
	for _, o := range objects {
		switch o := o.(type) {
		case *appsv1.Deployment:
			want += int(*o.Spec.Replicas)
		case *appsv1.StatefulSet:
			want += int(*o.Spec.Replicas)
		case *appsv1.DaemonSet:
			daemonSets = append(daemonSets, o)
		}
	}
	var pods []corev1.Pod
	waitFor(t, ctx, 120*time.Second, sc.name+" settled", func() (bool, string) {
		var status string
		pods, status = e.scenarioSettled(sc, want, daemonSets)
		return status == "", status
	})
	nodes := e.judgePlacement(pods, !sc.loose)
	if sc.check != nil {
		var running []corev1.Pod
		for _, p := range pods {
			if p.Spec.NodeName != "" {
				running = append(running, p)
			}
		}
		if err := sc.check(running, nodes); err != nil {
			t.Error(err)
		}
	}
	settled := time.Now()
	time.Sleep(8 * time.Second) // a solver that disagrees with kube-scheduler keeps launching
	e.judgeLaunches(since, settled, nodes, sc.emptyOK)
}

// scenarioSettled lists the scenario's pods and returns "" once want pods (daemonset pods
// aside) exist, all but sc.unplaceable are Running and those are Pending with a
// FailedProvisioning event, and each of daemonSets runs a pod on every node of those pods it
// selects; else a status.
func (e *opEnv) scenarioSettled(sc scenario, want int, daemonSets []*appsv1.DaemonSet) ([]corev1.Pod, string) {
	list := &corev1.PodList{}
	if err := e.kube.List(e.ctx, list, client.InNamespace("default"), client.MatchingLabels{scenarioLabel: sc.name}); err != nil {
		return nil, err.Error()
	}
	running, refused, daemons := 0, 0, 0
	for _, p := range list.Items {
		switch {
		case isDaemonPod(&p):
			daemons++
		case p.DeletionTimestamp != nil:
		case p.Status.Phase == corev1.PodRunning:
			running++
		case p.Spec.NodeName == "" && len(e.podEvents(&p, provisioning.ReasonFailedProvisioning)) > 0:
			refused++
		}
	}
	if len(list.Items)-daemons != want || running != want-sc.unplaceable || refused != sc.unplaceable {
		return nil, fmt.Sprintf("%d pods, %d running (want %d), %d refused by the solver (want %d)",
			len(list.Items)-daemons, running, want-sc.unplaceable, refused, sc.unplaceable)
	}
	if status := e.daemonsSettled(list.Items, daemonSets); status != "" {
		return nil, status
	}
	return list.Items, ""
}

// isDaemonPod reports whether a DaemonSet controls the pod.
func isDaemonPod(p *corev1.Pod) bool {
	ref := metav1.GetControllerOf(p)
	return ref != nil && ref.Kind == "DaemonSet"
}

// daemonsSettled returns "" once each daemonset runs a Running pod on every node of the other
// pods that its pod template's node selector and required node affinity admit; else a status.
// The solver plans no daemonset pod, but must leave room for them: one left Pending on a node
// it planned means it did not.
func (e *opEnv) daemonsSettled(pods []corev1.Pod, daemonSets []*appsv1.DaemonSet) string {
	onNode := map[string]bool{} // "<daemonset>/<node>" of Running daemonset pods
	nodes := map[string]bool{}
	for _, p := range pods {
		switch {
		case !isDaemonPod(&p):
			if p.Spec.NodeName != "" {
				nodes[p.Spec.NodeName] = true
			}
		case p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "":
			onNode[metav1.GetControllerOf(&p).Name+"/"+p.Spec.NodeName] = true
		}
	}
	for name := range nodes {
		n := &corev1.Node{}
		if err := e.kube.Get(e.ctx, client.ObjectKey{Name: name}, n); err != nil {
			return err.Error()
		}
		for _, ds := range daemonSets {
			selects, err := nodeaffinity.GetRequiredNodeAffinity(&corev1.Pod{Spec: ds.Spec.Template.Spec}).Match(n)
			if err != nil {
				return err.Error()
			}
			if selects && !onNode[ds.Name+"/"+name] {
				return fmt.Sprintf("daemonset %s has no Running pod on node %s (%s)", ds.Name, name, nodeClass(n))
			}
		}
	}
	return ""
}

// podEvents returns the messages of the pod's events with one of reasons, by first occurrence.
func (e *opEnv) podEvents(p *corev1.Pod, reasons ...string) []string {
	list := &corev1.EventList{}
	if err := e.kube.List(e.ctx, list, client.InNamespace(p.Namespace)); err != nil {
		e.t.Fatal(err)
	}
	// client-go's recorder names an event "<object>.<first occurrence, Unix ns in hex>".
	created := func(ev *corev1.Event) uint64 {
		ns, _ := strconv.ParseUint(ev.Name[strings.LastIndex(ev.Name, ".")+1:], 16, 64)
		return ns
	}
	sort.Slice(list.Items, func(i, j int) bool { return created(&list.Items[i]) < created(&list.Items[j]) })
	var out []string
	for _, ev := range list.Items {
		if ev.InvolvedObject.UID == p.UID && slices.Contains(reasons, ev.Reason) {
			out = append(out, ev.Message)
		}
	}
	return out
}

// plannedNode extracts the node name from a Nominated event's message.
func plannedNode(msg string) string {
	for _, prefix := range []string{"Launched node ", "Planned on existing node "} {
		if rest, ok := strings.CutPrefix(msg, prefix); ok {
			name, _, _ := strings.Cut(rest, " ")
			return name
		}
	}
	return ""
}

// nodeClass is what makes two nodes interchangeable for the judge: instance type, zone and
// capacity type.
func nodeClass(n *corev1.Node) string {
	if n == nil {
		return "(gone)"
	}
	return n.Labels[corev1.LabelInstanceTypeStable] + "/" + n.Labels[v1alpha5.LabelZone] + "/" + n.Labels[v1alpha5.LabelCapacityType]
}

// judgePlacement compares the solver's plan (each pod's first Nominated or FailedProvisioning
// event) with kube-scheduler's binding. Pods of one owner are interchangeable and so are nodes
// of one class, so it compares, per node class (or no node) and owner, how many pods were
// planned and bound. With exact, any difference fails the test; otherwise it is logged
// (kube-scheduler's scoring may legitimately spread pods the solver packed). It returns the
// pods' nodes by name.
func (e *opEnv) judgePlacement(pods []corev1.Pod, exact bool) map[string]*corev1.Node {
	t := e.t
	nodes := map[string]*corev1.Node{}
	get := func(name string) *corev1.Node {
		if n, ok := nodes[name]; ok {
			return n
		}
		n := &corev1.Node{}
		if err := e.kube.Get(e.ctx, client.ObjectKey{Name: name}, n); err != nil {
			n = nil
		}
		nodes[name] = n
		return n
	}
	planned, bound := map[string]int{}, map[string]int{}
	agree, running := 0, 0
	class := func(name string) string {
		if name == "" {
			return "(no node)"
		}
		return nodeClass(get(name))
	}
	for i := range pods {
		p := &pods[i]
		if isDaemonPod(p) {
			continue // the solver plans room for daemonset pods, not the pods themselves
		}
		owner := p.Labels["app"]
		if refs := p.OwnerReferences; len(refs) > 0 {
			owner = refs[0].Name
		}
		// The solver's first word on the pod, from the batch that launched for the scenario: the
		// node of a Nominated event, or none for a FailedProvisioning one. (Later batches re-plan
		// the pods kube-scheduler has not bound yet around those it bound, so their words
		// describe a different, partial problem.)
		events := e.podEvents(p, provisioning.ReasonNominated, provisioning.ReasonFailedProvisioning)
		plannedOn := ""
		if len(events) > 0 {
			plannedOn = plannedNode(events[0])
		}
		if p.Spec.NodeName != "" {
			running++
			if plannedOn == p.Spec.NodeName {
				agree++
			}
		}
		planned[class(plannedOn)+" "+owner]++
		bound[class(p.Spec.NodeName)+" "+owner]++
	}
	var diffs []string
	for k := range planned {
		if planned[k] != bound[k] {
			diffs = append(diffs, fmt.Sprintf("%s: planned %d, bound %d", k, planned[k], bound[k]))
		}
	}
	for k := range bound {
		if _, ok := planned[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: planned 0, bound %d", k, bound[k]))
		}
	}
	sort.Strings(diffs)
	t.Logf("kube-scheduler bound %d of %d running pods to the very node planned; per node class and owner: %d differences %v",
		agree, running, len(diffs), diffs)
	if exact && len(diffs) > 0 {
		t.Errorf("kube-scheduler's binding differs from the plan: %v", diffs)
	}
	return nodes
}

// judgeLaunches checks that every instance launched since the scenario began hosts one of its
// pods (nodes), but for at most emptyOK of them (see scenario.emptyOK), and that none was
// launched after it settled.
func (e *opEnv) judgeLaunches(since, settled time.Time, nodes map[string]*corev1.Node, emptyOK int) {
	var empty []string
	for id, dns := range e.instancesLaunchedSince(since) {
		if _, ok := nodes[dns]; !ok {
			empty = append(empty, fmt.Sprintf("%s (%s)", id, dns))
		}
	}
	if len(empty) > 0 {
		e.t.Logf("instances launched that host none of the scenario's pods: %v (%d allowed)", empty, emptyOK)
	}
	if len(empty) > emptyOK {
		e.t.Errorf("%d instances were launched but host none of the scenario's pods: %v", len(empty), empty)
	}
	if late := e.instancesLaunchedSince(settled); len(late) > 0 {
		e.t.Errorf("instances launched after the scenario settled: %v", late)
	}
}

// instancesLaunchedSince maps the id of each cluster instance launched at or after since (any
// state) to its private DNS name, the name of its Node.
func (e *opEnv) instancesLaunchedSince(since time.Time) map[string]string {
	e.t.Helper()
	out, err := e.ec2.DescribeInstances(e.ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: awssdk.String("tag:" + v1alpha5.TagCluster), Values: []string{e.sb.ClusterName}}}})
	if err != nil {
		e.t.Fatal(err)
	}
	launched := map[string]string{}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			// The emulator reports launch times to the millisecond, as EC2 does.
			if i.LaunchTime != nil && !i.LaunchTime.Before(since) {
				launched[awssdk.ToString(i.InstanceId)] = awssdk.ToString(i.PrivateDnsName)
			}
		}
	}
	return launched
}

// deleteProvisioner deletes the named Provisioner and waits up to 60 s for it to be gone.
func (e *opEnv) deleteProvisioner(name string) {
	prov := &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.kube.Delete(e.ctx, prov); client.IgnoreNotFound(err) != nil {
		e.t.Error(err)
		return
	}
	waitFor(e.t, e.ctx, 60*time.Second, "provisioner "+name+" deleted", func() (bool, string) {
		err := e.kube.Get(e.ctx, client.ObjectKey{Name: name}, &v1alpha5.Provisioner{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}
