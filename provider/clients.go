package provider

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/go-logr/logr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	sdkhttp "github.com/nodeform/terraform-provider-karpenter/awshttp"
	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// fieldOwner is the field manager name of every Kubernetes write the provider makes.
const fieldOwner = "terraform-provider-karpenter"

// clients is the configured provider: AWS service clients and a lazily built Kubernetes client.
// It is shared by all resources of one provider instance and safe for concurrent use.
type clients struct {
	region      string
	defaultTags map[string]string // provider default_tags, merged into every AWS resource's tags
	part        partitionCache
	ec2         *ec2.Client
	iam         *iam.Client
	sts         *sts.Client
	eks         *eks.Client

	restConfig func() (*rest.Config, error)
	kubeOnce   sync.Once
	kubeClient client.Client
	kubeErr    error

	installsMu sync.Mutex
	installs   map[string]bool // "<namespace>/<install id>" of the controllers this provider instance refreshed or planned from state
	// othersSeen: per "<namespace>\x00<namespace left>", the other controllers the last plan
	// of a create or move there found (and warned about): see noteOthersPlanned.
	othersSeen map[string]map[string]bool
}

// noteInstallation records that a karpenter_controller instance of the Terraform state being
// planned holds the installation in namespace whose Deployment carries install id id ("": none).
// One provider instance serves one Terraform operation, so a create planned in the same plan
// (the replacement of that instance) recognises the installation as this state's own.
func (c *clients) noteInstallation(namespace, id string) {
	c.installsMu.Lock()
	defer c.installsMu.Unlock()
	if c.installs == nil {
		c.installs = map[string]bool{}
	}
	c.installs[namespace+"/"+id] = true
}

// knownInstallation reports whether noteInstallation recorded namespace and id.
func (c *clients) knownInstallation(namespace, id string) bool {
	c.installsMu.Lock()
	defer c.installsMu.Unlock()
	return c.installs[namespace+"/"+id]
}

// noteOthersPlanned records that the plan of a create in namespace, or of a move there from
// namespace from ("" for a create), checked for other Karpenter controllers and warned about
// found (controllersElsewhere's names). Terraform plans each change again during the apply,
// with the provider instance that then applies it, so the create or move only warns about
// controllers that plan did not name (othersPlanned) instead of repeating its warning.
func (c *clients) noteOthersPlanned(namespace, from string, found []string) {
	c.installsMu.Lock()
	defer c.installsMu.Unlock()
	if c.othersSeen == nil {
		c.othersSeen = map[string]map[string]bool{}
	}
	seen := map[string]bool{}
	for _, f := range found {
		seen[f] = true
	}
	c.othersSeen[namespace+"\x00"+from] = seen
}

// othersPlanned returns what noteOthersPlanned recorded for namespace and from (nil when this
// provider instance planned no such check: then everything found is warned about).
func (c *clients) othersPlanned(namespace, from string) map[string]bool {
	c.installsMu.Lock()
	defer c.installsMu.Unlock()
	return c.othersSeen[namespace+"\x00"+from]
}

// defaultAWSMaxAttempts is the attempt limit of every AWS call unless AWS_MAX_ATTEMPTS is set.
const defaultAWSMaxAttempts = 10

// newClients loads the AWS configuration (config.LoadDefaultConfig plus the block's region,
// profile, static credentials and endpoint overrides) and prepares the Kubernetes REST config.
func newClients(ctx context.Context, m providerModel) (*clients, diag.Diagnostics) {
	var diags diag.Diagnostics
	var opts []func(*config.LoadOptions) error
	if v := m.Region.ValueString(); v != "" {
		opts = append(opts, config.WithRegion(v))
	}
	if v := m.Profile.ValueString(); v != "" {
		opts = append(opts, config.WithSharedConfigProfile(v))
	}
	if ak, sk := m.AccessKey.ValueString(), m.SecretKey.ValueString(); ak != "" || sk != "" {
		if ak == "" || sk == "" {
			diags.AddError("Invalid provider configuration", "access_key and secret_key must be set together")
			return nil, diags
		}
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(ak, sk, m.Token.ValueString())))
	}
	if os.Getenv("AWS_MAX_ATTEMPTS") == "" {
		// The SDK's standard retryer (throttling, 5xx, transient network errors such as
		// net.ErrClosed) with more attempts than its default 3, as Terraform's AWS provider
		// does: one apply makes dozens of calls and must not fail on one transient error.
		opts = append(opts, config.WithRetryMaxAttempts(defaultAWSMaxAttempts))
	}
	if m.DefaultTags.IsUnknown() {
		diags.AddAttributeError(path.Root("default_tags"), "Invalid provider configuration", "default_tags is not known until apply; it cannot depend on resources that are not created yet")
		return nil, diags
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		diags.AddError("Cannot load AWS configuration", err.Error())
		return nil, diags
	}
	cfg.HTTPClient = sdkhttp.Wrap(cfg.HTTPClient)
	var ep endpointsModel
	if len(m.Endpoints) > 0 {
		ep = m.Endpoints[0]
	}
	base := func(v types.String) *string {
		if s := v.ValueString(); s != "" {
			return aws.String(s)
		}
		return nil
	}
	c := &clients{
		region:      cfg.Region,
		defaultTags: stringMap(ctx, m.DefaultTags, &diags),
		ec2: ec2.NewFromConfig(cfg, func(o *ec2.Options) {
			if b := base(ep.EC2); b != nil {
				o.BaseEndpoint = b
			}
		}),
		iam: iam.NewFromConfig(cfg, func(o *iam.Options) {
			if b := base(ep.IAM); b != nil {
				o.BaseEndpoint = b
			}
		}),
		sts: sts.NewFromConfig(cfg, func(o *sts.Options) {
			if b := base(ep.STS); b != nil {
				o.BaseEndpoint = b
			}
		}),
		eks: eks.NewFromConfig(cfg, func(o *eks.Options) {
			if b := base(ep.EKS); b != nil {
				o.BaseEndpoint = b
			}
		}),
	}
	var k kubernetesModel
	if len(m.Kubernetes) > 0 {
		k = m.Kubernetes[0]
	}
	for name, v := range map[string]types.String{"host": k.Host, "cluster_ca_certificate": k.ClusterCACertificate, "token": k.Token,
		"client_certificate": k.ClientCertificate, "client_key": k.ClientKey, "config_path": k.ConfigPath, "config_context": k.ConfigContext} {
		if v.IsUnknown() {
			// Falling back to the kubeconfig would silently read another cluster.
			err := fmt.Errorf("kubernetes.%s is not known until apply; the provider configuration cannot depend on resources that are not created yet", name)
			c.restConfig = func() (*rest.Config, error) { return nil, err }
			return c, diags
		}
	}
	var exec *clientcmdapi.ExecConfig
	if len(k.Exec) > 0 {
		e := k.Exec[0]
		if e.APIVersion.IsUnknown() || e.Command.IsUnknown() || e.Args.IsUnknown() || e.Env.IsUnknown() {
			err := fmt.Errorf("kubernetes.exec is not known until apply; the provider configuration cannot depend on resources that are not created yet")
			c.restConfig = func() (*rest.Config, error) { return nil, err }
			return c, diags
		}
		exec = execConfig(ctx, e, &diags)
	}
	c.restConfig = func() (*rest.Config, error) { return restConfigFrom(k, exec) }
	return c, diags
}

// execConfig converts the exec block to client-go's exec plugin configuration (never
// interactive: Terraform owns the terminal).
func execConfig(ctx context.Context, e execModel, diags *diag.Diagnostics) *clientcmdapi.ExecConfig {
	cfg := &clientcmdapi.ExecConfig{
		APIVersion:      e.APIVersion.ValueString(),
		Command:         e.Command.ValueString(),
		Args:            stringList(ctx, e.Args, diags),
		InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
	}
	env := stringMap(ctx, e.Env, diags)
	for _, name := range slices.Sorted(maps.Keys(env)) {
		cfg.Env = append(cfg.Env, clientcmdapi.ExecEnvVar{Name: name, Value: env[name]})
	}
	return cfg
}

// restConfigFrom builds a REST config from the kubernetes block: host/CA/token/client
// certificate when host is set, else the kubeconfig (config_path, else KUBECONFIG, else
// ~/.kube/config) with config_context; exec, when not nil, supplies credentials either way.
func restConfigFrom(k kubernetesModel, exec *clientcmdapi.ExecConfig) (*rest.Config, error) {
	if host := k.Host.ValueString(); host != "" {
		return &rest.Config{
			ExecProvider: exec,
			Host:         host,
			BearerToken:  k.Token.ValueString(),
			TLSClientConfig: rest.TLSClientConfig{
				Insecure: k.Insecure.ValueBool(),
				CAData:   []byte(k.ClusterCACertificate.ValueString()),
				CertData: []byte(k.ClientCertificate.ValueString()),
				KeyData:  []byte(k.ClientKey.ValueString()),
			},
		}, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if p := k.ConfigPath.ValueString(); p != "" {
		rules.ExplicitPath = p
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: k.ConfigContext.ValueString()}
	if k.Insecure.ValueBool() {
		overrides.ClusterInfo.InsecureSkipTLSVerify = true
	}
	if exec != nil {
		overrides.AuthInfo.Exec = exec
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes: no usable kubeconfig (set the provider's kubernetes block or KUBECONFIG): %w", err)
	}
	return cfg, nil
}

// scheme knows every Kubernetes type the provider reads or writes.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, admissionregistrationv1.AddToScheme, appsv1.AddToScheme, coordinationv1.AddToScheme, rbacv1.AddToScheme, policyv1.AddToScheme, apiextensionsv1.AddToScheme, v1alpha5.AddToScheme, karpv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err) // static registration of built-in types; cannot fail at run time
		}
	}
	return s
}()

// kube returns the Kubernetes client, building it on first use. The error explains what is
// missing in the provider configuration.
func (c *clients) kube() (client.Client, error) {
	c.kubeOnce.Do(func() {
		// controller-runtime's client logs through its global logger and prints a stack trace
		// when none was set; the provider reports errors as diagnostics instead.
		setLoggerOnce.Do(func() { ctrllog.SetLogger(logr.Discard()) })
		cfg, err := c.restConfig()
		if err != nil {
			c.kubeErr = err
			return
		}
		cfg.UserAgent = fieldOwner
		c.kubeClient, c.kubeErr = client.New(cfg, client.Options{Scheme: scheme})
	})
	return c.kubeClient, c.kubeErr
}

var setLoggerOnce sync.Once
