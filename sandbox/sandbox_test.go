package sandbox_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nodeform/terraform-provider-karpenter/sandbox"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/node"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/pods"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
	"github.com/nodeform/terraform-provider-karpenter/version"
)

// helperEnv makes this test binary act as a controller pod's process: podHelper for "1",
// webhookHelper for "webhook".
const helperEnv = "SANDBOX_TEST_POD_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "1":
		os.Exit(podHelper())
	case "webhook":
		os.Exit(webhookHelper())
	}
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	sandboxtest.Options.ControllerExecutable = exe
	sandboxtest.Options.BootDelay = 500 * time.Millisecond
	sandboxtest.Main(m)
}

// podReport is what the pod helper process found about its credentials.
type podReport struct {
	Pid             int      `json:"pid"`
	Args            []string `json:"args"`
	User            string   `json:"user"`
	KubeconfigUsers int      `json:"kubeconfigUsers"`
	HasClientCert   bool     `json:"hasClientCert"`
	TokenFile       string   `json:"tokenFile"`
	ListNodesErr    string   `json:"listNodesErr"`
	Env             map[string]string
	AWSTokenAud     []string `json:"awsTokenAud"`
}

// podHelper runs inside a "controller pod": it inspects its kubeconfig and environment, asks
// the API server who it is, writes a report and waits for SIGTERM (then writes a marker).
func podHelper() int {
	out := os.Getenv("SANDBOX_TEST_REPORT")
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	rep := podReport{Pid: os.Getpid(), Args: os.Args[1:], Env: map[string]string{}}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		rep.Env[k] = v
	}
	raw, err := clientcmd.LoadFromFile(os.Getenv("KUBECONFIG"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rep.KubeconfigUsers = len(raw.AuthInfos)
	for _, a := range raw.AuthInfos {
		rep.HasClientCert = rep.HasClientCert || len(a.ClientCertificateData) > 0 || a.ClientCertificate != "" || a.Token != "" || a.Username != ""
		rep.TokenFile = a.TokenFile
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ssr, err := cs.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rep.User = ssr.Status.UserInfo.Username
	if _, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{}); err != nil {
		rep.ListNodesErr = err.Error()
	}
	if f := os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE"); f != "" {
		tok, _ := os.ReadFile(f)
		parts := strings.Split(string(tok), ".")
		if len(parts) == 3 {
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			var claims struct {
				Aud []string `json:"aud"`
			}
			_ = json.Unmarshal(payload, &claims)
			rep.AWSTokenAud = claims.Aud
		}
	}
	b, _ := json.Marshal(rep)
	if err := os.WriteFile(out+".tmp", b, 0o644); err != nil {
		return 2
	}
	_ = os.Rename(out+".tmp", out)
	<-term
	_ = os.WriteFile(out+".terminated", nil, 0o644)
	return 0
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, last)
}

func TestSandboxStarts(t *testing.T) {
	sb := sandboxtest.Start(t)
	cs := kubernetes.NewForConfigOrDie(sb.RESTConfig())
	ctx := context.Background()
	// the static node group joined, labelled, not managed by karpenter
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sandbox.LabelNodeGroup + "=" + sandbox.StaticNodeGroup})
	if err != nil || len(nodes.Items) != 1 {
		t.Fatalf("static nodes: %v %v", nodes, err)
	}
	n := nodes.Items[0]
	if n.Labels[node.LabelInstanceType] != "t3.medium" || !strings.HasPrefix(n.Spec.ProviderID, "aws:///us-east-1a/i-") || len(n.Finalizers) != 0 {
		t.Fatalf("static node: labels %v providerID %s finalizers %v", n.Labels, n.Spec.ProviderID, n.Finalizers)
	}
	// OIDC discovery of the issuer is served by the API server itself, without credentials
	anon := rest.AnonymousClientConfig(sb.RESTConfig())
	body, err := kubernetes.NewForConfigOrDie(anon).Discovery().RESTClient().Get().AbsPath("/.well-known/openid-configuration").DoRaw(ctx)
	if err != nil || !strings.Contains(string(body), `"issuer":"`+sb.Endpoint+`"`) {
		t.Fatalf("openid-configuration: %s %v", body, err)
	}
	env := strings.Join(sb.Env(), "\n")
	for _, want := range []string{"KUBECONFIG=" + sb.Kubeconfig, "CLUSTER_NAME=karpenter-demo", "AWS_ENDPOINT_URL_EC2=" + sb.AWSEndpoint, "AWS_ENDPOINT_URL_SSM=", "AWS_REGION=us-east-1"} {
		if !strings.Contains(env, want) {
			t.Errorf("Env() lacks %q", want)
		}
	}
}

// nodeRole creates a role trusting EC2 + instance profile in the emulator; mapped says whether
// the role is added to aws-auth.
func nodeRole(t *testing.T, sb *sandbox.Sandbox, name string, mapped bool) string {
	t.Helper()
	return roleTrusting(t, sb, name, "ec2.amazonaws.com", mapped)
}

// roleTrusting is nodeRole with a trust policy naming service principal instead of EC2's.
func roleTrusting(t *testing.T, sb *sandbox.Sandbox, name, principal string, mapped bool) string {
	t.Helper()
	ctx := context.Background()
	c := iam.NewFromConfig(sb.AWSConfig())
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + principal + `"},"Action":"sts:AssumeRole"}]}`
	role, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &name, AssumeRolePolicyDocument: &trust})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: &name}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: &name, RoleName: &name}); err != nil {
		t.Fatal(err)
	}
	if mapped {
		if err := node.MapRole(ctx, kubernetes.NewForConfigOrDie(sb.RESTConfig()), *role.Role.Arn); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

func launch(t *testing.T, sb *sandbox.Sandbox, profile, userData string) ec2types.Instance {
	t.Helper()
	out, err := ec2.NewFromConfig(sb.AWSConfig()).RunInstances(context.Background(), &ec2.RunInstancesInput{
		MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), ImageId: awssdk.String(aws.SeedAMIs[0].ID),
		InstanceType: ec2types.InstanceTypeM5Large, SubnetId: awssdk.String(aws.SeedSubnets[1].ID),
		IamInstanceProfile:    &ec2types.IamInstanceProfileSpecification{Name: &profile},
		InstanceMarketOptions: &ec2types.InstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot},
		UserData:              awssdk.String(base64.StdEncoding.EncodeToString([]byte(userData))),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Instances[0]
}

func userData(sb *sandbox.Sandbox, cluster string) string {
	return "#!/bin/bash -xe\n/etc/eks/bootstrap.sh '" + cluster + "' --apiserver-endpoint '" + sb.Endpoint + "' --b64-cluster-ca '" +
		base64.StdEncoding.EncodeToString(sb.CACertPEM) + "' \\\n --kubelet-extra-args '--node-labels=karpenter.sh/provisioner-name=default,team=blue --register-with-taints=dedicated=blue:NoSchedule'\n"
}

func TestInstancesBecomeNodes(t *testing.T) {
	sb := sandboxtest.Start(t)
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(sb.RESTConfig())
	good := nodeRole(t, sb, "test-node-role", true)
	unmapped := nodeRole(t, sb, "test-unmapped-role", false)
	// China's EC2 principal in us-east-1: the instance gets no credentials (CheckInstanceTrust).
	untrusted := roleTrusting(t, sb, "test-untrusted-role", "ec2.amazonaws.com.cn", true)

	ok := launch(t, sb, good, userData(sb, sb.ClusterName))
	wrongCluster := launch(t, sb, good, userData(sb, "someone-else"))
	garbage := launch(t, sb, good, "#!/bin/bash\necho no bootstrap here\n")
	noRole := launch(t, sb, unmapped, userData(sb, sb.ClusterName))
	noTrust := launch(t, sb, untrusted, userData(sb, sb.ClusterName))
	// NodeRestriction admission judges the registration: a node may not label itself in the
	// node-restriction.kubernetes.io/ namespace (proves the Node is created as the node).
	restricted := launch(t, sb, good, strings.Replace(userData(sb, sb.ClusterName), "team=blue", "node-restriction.kubernetes.io/team=blue", 1))

	var n *corev1.Node
	eventually(t, 30*time.Second, "node of "+*ok.InstanceId, func() (bool, error) {
		var err error
		n, err = cs.CoreV1().Nodes().Get(ctx, *ok.PrivateDnsName, metav1.GetOptions{})
		return err == nil, err
	})
	if n.Spec.ProviderID != "aws:///us-east-1b/"+*ok.InstanceId || n.Labels["team"] != "blue" ||
		n.Labels["karpenter.sh/capacity-type"] != "spot" || n.Labels[node.LabelInstanceType] != "m5.large" {
		t.Fatalf("node %s: providerID %s labels %v", n.Name, n.Spec.ProviderID, n.Labels)
	}
	// (admission adds node.kubernetes.io/not-ready until kwok reports Ready, as for any node)
	if !slices.ContainsFunc(n.Spec.Taints, func(tn corev1.Taint) bool {
		return tn.Key == "dedicated" && tn.Value == "blue" && tn.Effect == corev1.TaintEffectNoSchedule
	}) {
		t.Fatalf("taints %v", n.Spec.Taints)
	}
	if got := n.Status.Allocatable.Cpu().MilliValue(); got != 2000-70 {
		t.Fatalf("allocatable cpu %dm", got)
	}
	// registered by the node's own identity: the kubelet field manager of user system:node:<name>
	eventually(t, 20*time.Second, "node Ready (kwok)", func() (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, *ok.PrivateDnsName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})

	for _, bad := range []struct {
		inst ec2types.Instance
		why  string
	}{{wrongCluster, "someone-else"}, {garbage, "no call of /etc/eks/bootstrap.sh"}, {noRole, "not mapped"}, {noTrust, "does not let ec2.amazonaws.com assume it"}, {restricted, "node-restriction.kubernetes.io"}} {
		eventually(t, 20*time.Second, "boot of "+*bad.inst.InstanceId, func() (bool, error) {
			_, booted := sb.BootResult(*bad.inst.InstanceId)
			return booted, nil
		})
		err, _ := sb.BootResult(*bad.inst.InstanceId)
		if err == nil || !strings.Contains(err.Error(), bad.why) {
			t.Errorf("instance %s: join error %v, want %q", *bad.inst.InstanceId, err, bad.why)
		}
		if _, err := cs.CoreV1().Nodes().Get(ctx, *bad.inst.PrivateDnsName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("instance %s joined (%v)", *bad.inst.InstanceId, err)
		}
	}

	if _, err := ec2.NewFromConfig(sb.AWSConfig()).TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{*ok.InstanceId}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "node deleted after termination", func() (bool, error) {
		_, err := cs.CoreV1().Nodes().Get(ctx, *ok.PrivateDnsName, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
}

func TestControllerPodRunsAsProcess(t *testing.T) {
	sb := sandboxtest.Start(t)
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(sb.RESTConfig())
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sandbox.LabelNodeGroup + "=" + sandbox.StaticNodeGroup})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("no static node: %v", err)
	}
	ns := "karpenter-test"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	roleArn := "arn:aws:iam::111122223333:role/karpenter-controller"
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "karpenter",
		Annotations: map[string]string{pods.RoleARNAnnotation: roleArn}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "report.json")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "karpenter-0", Namespace: ns},
		Spec: corev1.PodSpec{
			ServiceAccountName: "karpenter",
			NodeName:           nodes.Items[0].Name,
			Containers: []corev1.Container{{
				Name: "controller", Image: version.ControllerImage(),
				Args: []string{"controller", "--cluster-name=$(CLUSTER_NAME)"},
				Env: []corev1.EnvVar{
					{Name: helperEnv, Value: "1"},
					{Name: "SANDBOX_TEST_REPORT", Value: report},
					{Name: "CLUSTER_NAME", Value: sb.ClusterName},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				},
			}},
		},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var rep podReport
	eventually(t, 30*time.Second, "pod process report", func() (bool, error) {
		b, err := os.ReadFile(report)
		if err != nil {
			return false, err
		}
		return json.Unmarshal(b, &rep) == nil, nil
	})
	if rep.User != "system:serviceaccount:"+ns+":karpenter" {
		t.Errorf("process authenticated as %q", rep.User)
	}
	if rep.KubeconfigUsers != 1 || rep.HasClientCert || rep.TokenFile == "" {
		t.Errorf("kubeconfig: %d users, other credentials %v, tokenFile %q", rep.KubeconfigUsers, rep.HasClientCert, rep.TokenFile)
	}
	if !strings.Contains(rep.ListNodesErr, "forbidden") {
		t.Errorf("listing nodes without RBAC: %q, want forbidden", rep.ListNodesErr)
	}
	if strings.Join(rep.Args, " ") != "controller --cluster-name="+sb.ClusterName {
		t.Errorf("args %q", rep.Args)
	}
	e := rep.Env
	if e["POD_NAME"] != "karpenter-0" || e["AWS_ROLE_ARN"] != roleArn || e["AWS_STS_REGIONAL_ENDPOINTS"] != "regional" ||
		e["AWS_ENDPOINT_URL_EC2"] != sb.AWSEndpoint || e["METRICS_PORT"] == "" || e["HEALTH_PROBE_PORT"] == "" || e["WEBHOOK_PORT"] == "" || e["AWS_REGION"] != "us-east-1" {
		t.Errorf("env %v", e)
	}
	if _, leaked := e["AWS_ACCESS_KEY_ID"]; leaked {
		t.Error("static AWS credentials leaked into the pod")
	}
	if len(rep.AWSTokenAud) != 1 || rep.AWSTokenAud[0] != pods.STSAudience {
		t.Errorf("web identity token audiences %v", rep.AWSTokenAud)
	}
	if _, err := os.Stat(pods.LogPath(sb.Dir, ns, "karpenter-0")); err != nil {
		t.Errorf("pod log: %v", err)
	}
	killedIsRestarted(t, cs, pod, report, rep.Pid)
	if err := cs.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 45*time.Second, "process terminated after pod deletion", func() (bool, error) {
		_, err := os.Stat(report + ".terminated")
		return err == nil, err
	})
}

// killedIsRestarted kills the pod's process (pid) with SIGKILL and checks that a new one runs
// (it writes report again) and that the pod's status says so as a kubelet would: restartCount
// 1, lastState.terminated with exit code 137 (reason Error), running again, Ready.
func killedIsRestarted(t *testing.T, cs kubernetes.Interface, pod *corev1.Pod, report string, pid int) {
	t.Helper()
	ctx := context.Background()
	if err := os.Remove(report); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "pod process restarted", func() (bool, error) {
		_, err := os.Stat(report)
		return err == nil, err
	})
	var got *corev1.Pod
	eventually(t, 30*time.Second, "restartCount 1 in the pod status", func() (bool, error) {
		var err error
		got, err = cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		return err == nil && len(got.Status.ContainerStatuses) == 1 && got.Status.ContainerStatuses[0].RestartCount == 1 &&
			got.Status.ContainerStatuses[0].State.Running != nil, err
	})
	st := got.Status.ContainerStatuses[0]
	term := st.LastTerminationState.Terminated
	if term == nil || term.ExitCode != 137 || term.Reason != "Error" || !st.Ready || got.Status.Phase != corev1.PodRunning {
		t.Fatalf("container status after the restart: %+v (last state %+v), phase %s", st, term, got.Status.Phase)
	}
	for _, c := range got.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
			t.Fatalf("pod not Ready after the restart: %+v", got.Status.Conditions)
		}
	}
}
