package operator

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/metrics"
	"github.com/nodeform/terraform-provider-karpenter/sandbox"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
)

func TestMain(m *testing.M) {
	sandboxtest.Options.NoBootDelay = true
	sandboxtest.Options.BootDelay = 0
	sandboxtest.Options.StaticNodes = 0
	sandboxtest.Main(m)
}

// TestControllerOnSandbox runs the whole controller in-process against the sandbox (real API
// server, scheduler, controller manager, kwok, AWS emulator): pending pods get spot nodes
// launched through CreateFleet, and once the pods are gone the empty nodes are deprovisioned,
// drained and their instances terminated.
func TestControllerOnSandbox(t *testing.T) {
	e, done := startOpEnv(t, 12*time.Minute, "-op-test-node")
	defer done()
	kube, ctx := e.kube, e.ctx

	e.createProvisioner()
	deploy := e.createInflateDeployment()
	first := e.waitRunningOnLaunchedSpot("3 pods Running on launched spot nodes")

	// On-demand prices came from the emulator's Price List API (AWS_ENDPOINT_URL_PRICING), not
	// only from the built-in table.
	waitFor(t, ctx, time.Minute, "on-demand prices from the Price List API", func() (bool, string) {
		live := testutil.ToFloat64(metrics.OnDemandPricesKnown.WithLabelValues("live"))
		return live >= 300 && testutil.ToFloat64(metrics.PricingRefreshes.WithLabelValues("success")) >= 1, fmt.Sprintf("%v live prices", live)
	})

	// Deleting a node drains it through the Eviction API: its pods come back on a new node and
	// its instance is terminated.
	e.deleteNodeAndWaitReplaced(first)

	if err := kube.Delete(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	e.waitDeprovisioned()

	// Volume topology as kube-scheduler's VolumeBinding applies it, with the PersistentVolume
	// controller binding claims; then claims that cannot bind, and the recovery once they can.
	e.runVolumeWorkloads()
	e.waitDeprovisioned()
	e.runVolumeFaults()
	e.waitDeprovisioned()
}

// startOpEnv starts (or joins) the package's sandbox, installs the Provisioner CRD, tags the
// discovery resources, creates a node role and instance profile named <cluster><profileSuffix>
// and starts the controller; done stops the controller and ends the context (timeout long).
func startOpEnv(t *testing.T, timeout time.Duration, profileSuffix string) (e *opEnv, done func()) {
	e, cancel := newOpEnv(t, timeout)
	profile, nodeRole := sandboxtest.CreateNodeInstanceProfile(t, e.ctx, e.sb, e.sb.ClusterName+profileSuffix)
	e.setSandboxEnv()
	e.controllerRole = e.assumeControllerRole(e.sb.ClusterName+profileSuffix+"-controller", nodeRole)
	stop := e.startController(profile)
	return e, func() { stop(); cancel() }
}

// newOpEnv starts (or joins) the package's sandbox, installs the Provisioner CRD and tags the
// discovery resources; cancel ends the context (timeout long).
func newOpEnv(t *testing.T, timeout time.Duration) (e *opEnv, cancel context.CancelFunc) {
	sb := sandboxtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	scheme := Scheme()
	_ = apiextensionsv1.AddToScheme(scheme)
	kube, err := client.New(sb.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e = &opEnv{t: t, ctx: ctx, sb: sb, kube: kube, ec2: ec2.NewFromConfig(sb.AWSConfig())}
	sandboxtest.InstallCRDs(t, ctx, e.kube)
	sandboxtest.TagDiscoveryResources(t, ctx, e.sb)
	return e, cancel
}

// inflateLabels select the pods of the test's inflate Deployment.
var inflateLabels = map[string]string{"app": "inflate"}

// opEnv is the sandbox TestControllerOnSandbox runs the controller against, with an admin
// controller-runtime client and an EC2 client for the AWS emulator (administrator key; the
// controller itself runs with the controller role, see assumeControllerRole). Its methods fail
// t on error or timeout.
type opEnv struct {
	t              *testing.T
	ctx            context.Context
	sb             *sandbox.Sandbox
	kube           client.Client
	ec2            *ec2.Client
	controllerRole controllerRole
	// oidcProviderArn is the IAM OIDC provider of the sandbox's issuer, once a test that runs
	// the controller with IRSA credentials registered it (ensureOIDCProvider).
	oidcProviderArn string
}

// setSandboxEnv exports the sandbox's environment (AWS endpoint, credentials, ...) for the
// rest of the test, so that the controller's AWS clients talk to the emulator.
func (e *opEnv) setSandboxEnv() {
	for _, kv := range e.sb.Env() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			e.t.Setenv(k, v)
		}
	}
}

// startController runs the controller in the background with short batch windows. The
// returned function cancels it and waits up to 30s for Run to return, failing the test if Run
// returned an error or did not return.
func (e *opEnv) startController(profile string) (stop func()) {
	sb := e.sb
	runCtx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, &Options{
			ClusterName: sb.ClusterName, ClusterEndpoint: sb.Endpoint, DefaultInstanceProfile: profile,
			AWSRegion: sb.Region, Kubeconfig: sb.Kubeconfig, LogLevel: "info",
			BatchIdleDuration: 500 * time.Millisecond, BatchMaxDuration: 2 * time.Second,
			LeaderElect: true, LeaderElectionNS: "default", inProcessRerun: true,
		})
	}()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			e.t.Error("Run did not return after cancel")
		}
	}
}

// createProvisioner creates the "default" Provisioner: spot only, discovery-tagged subnets and
// security groups, empty nodes removed after 5 seconds.
func (e *opEnv) createProvisioner() {
	e.createProvisionerWith([]v1alpha5.NodeSelectorRequirement{
		{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{v1alpha5.CapacityTypeSpot}}})
}

// createProvisionerWith creates the "default" Provisioner with requirements reqs, otherwise as
// createProvisioner.
func (e *opEnv) createProvisionerWith(reqs []v1alpha5.NodeSelectorRequirement) {
	e.t.Helper()
	prov := &v1alpha5.Provisioner{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1alpha5.ProvisionerSpec{
			Requirements:         reqs,
			TTLSecondsAfterEmpty: ptr.To[int64](5),
			Provider: &v1alpha5.AWS{
				SubnetSelector:        map[string]string{v1alpha5.DiscoveryTagKey: e.sb.ClusterName},
				SecurityGroupSelector: map[string]string{v1alpha5.DiscoveryTagKey: e.sb.ClusterName},
			},
		},
	}
	if err := e.kube.Create(e.ctx, prov); err != nil {
		e.t.Fatal(err)
	}
}

// createInflateDeployment creates the "inflate" Deployment: 3 pause pods requesting 1 CPU each.
func (e *opEnv) createInflateDeployment() *appsv1.Deployment {
	e.t.Helper()
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "inflate", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: inflateLabels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: inflateLabels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](0),
					Containers: []corev1.Container{{Name: "inflate", Image: "public.ecr.aws/eks-distro/kubernetes/pause:3.7",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}},
				},
			},
		},
	}
	if err := e.kube.Create(e.ctx, deploy); err != nil {
		e.t.Fatal(err)
	}
	return deploy
}

// waitRunningOnLaunchedSpot waits up to 120s for the 3 inflate pods to run on live spot nodes
// of the "default" provisioner carrying the termination finalizer, and returns the names of
// those nodes.
func (e *opEnv) waitRunningOnLaunchedSpot(what string) map[string]bool {
	t, ctx, kube := e.t, e.ctx, e.kube
	t.Helper()
	launched := map[string]bool{}
	waitFor(t, ctx, 120*time.Second, what, func() (bool, string) {
		pods := &corev1.PodList{}
		if err := kube.List(ctx, pods, client.InNamespace("default"), client.MatchingLabels(inflateLabels)); err != nil {
			return false, err.Error()
		}
		clear(launched)
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
				continue
			}
			n := &corev1.Node{}
			if err := kube.Get(ctx, client.ObjectKey{Name: p.Spec.NodeName}, n); err != nil || n.DeletionTimestamp != nil {
				continue
			}
			if n.Labels[v1alpha5.LabelProvisionerName] == "default" && n.Labels[v1alpha5.LabelCapacityType] == "spot" && hasFinalizer(n) {
				running++
				launched[n.Name] = true
			}
		}
		return running == 3, fmt.Sprintf("%d of %d pods running on launched spot nodes", running, len(pods.Items))
	})
	return launched
}

// deleteNodeAndWaitReplaced deletes one of the nodes, waits for the inflate pods to run again
// on other launched nodes, then waits up to 60s for the Node to be gone and its instance to be
// shutting down or terminated.
func (e *opEnv) deleteNodeAndWaitReplaced(nodes map[string]bool) {
	t, ctx, kube := e.t, e.ctx, e.kube
	t.Helper()
	var victim corev1.Node
	for name := range nodes {
		if err := kube.Get(ctx, client.ObjectKey{Name: name}, &victim); err != nil {
			t.Fatal(err)
		}
		break
	}
	if err := kube.Delete(ctx, &victim); err != nil {
		t.Fatal(err)
	}
	second := e.waitRunningOnLaunchedSpot("pods evicted and running again on a new node")
	if second[victim.Name] {
		t.Fatalf("pods still on the deleted node %s", victim.Name)
	}
	e.waitNodeAndInstanceGone(&victim, 60*time.Second)
}

// waitDeprovisioned waits up to 90s for every node of the "default" provisioner to be gone and
// no pending or running instance of the cluster to be left.
func (e *opEnv) waitDeprovisioned() {
	t, ctx, kube := e.t, e.ctx, e.kube
	t.Helper()
	waitFor(t, ctx, 90*time.Second, "empty nodes deprovisioned and instances terminated", func() (bool, string) {
		nodes := &corev1.NodeList{}
		if err := kube.List(ctx, nodes, client.MatchingLabels{v1alpha5.LabelProvisionerName: "default"}); err != nil {
			return false, err.Error()
		}
		out, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: awssdk.String("tag:" + v1alpha5.TagCluster), Values: []string{e.sb.ClusterName}},
			{Name: awssdk.String("instance-state-name"), Values: []string{"pending", "running"}}}})
		if err != nil {
			return false, err.Error()
		}
		instances := 0
		for _, r := range out.Reservations {
			instances += len(r.Instances)
		}
		return len(nodes.Items) == 0 && instances == 0, fmt.Sprintf("%d nodes, %d instances left", len(nodes.Items), instances)
	})
}

func hasFinalizer(n *corev1.Node) bool {
	for _, f := range n.Finalizers {
		if f == v1alpha5.TerminationFinalizer {
			return true
		}
	}
	return false
}

// waitFor polls cond every 250ms until it holds or timeout passes (real time: the sandbox
// runs real components).
func waitFor(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var status string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var ok bool
		if ok, status = cond(); ok {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %s", what, status)
}
