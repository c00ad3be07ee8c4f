package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/smithy-go"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	kresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/version"
)

var (
	_ resource.ResourceWithConfigure      = (*controllerResource)(nil)
	_ resource.ResourceWithImportState    = (*controllerResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*controllerResource)(nil)
	_ resource.ResourceWithValidateConfig = (*controllerResource)(nil)
)

// Default timeouts of karpenter_controller.
const (
	defaultCreateTimeout = 10 * time.Minute
	defaultDeleteTimeout = 15 * time.Minute
	pollInterval         = time.Second
)

// Requests of the controller container when the resources block is omitted (Kubernetes
// quantities: cores and bytes).
const (
	defaultCPURequest    = "1"
	defaultMemoryRequest = "1Gi"
)

// NewControllerResource returns karpenter_controller: the controller installation (CRD,
// namespace, service account, RBAC, Deployment).
func NewControllerResource() resource.Resource { return &controllerResource{} }

type controllerResource struct{ c *clients }

type controllerModel struct {
	ID                       types.String    `tfsdk:"id"`
	ClusterName              types.String    `tfsdk:"cluster_name"`
	ClusterEndpoint          types.String    `tfsdk:"cluster_endpoint"`
	Namespace                types.String    `tfsdk:"namespace"`
	NamespaceCreated         types.Bool      `tfsdk:"namespace_created"`
	InstallComplete          types.Bool      `tfsdk:"install_complete"`
	TakeOverInstallation     types.Bool      `tfsdk:"take_over_installation"`
	ServiceAccountName       types.String    `tfsdk:"service_account_name"`
	ControllerRoleARN        types.String    `tfsdk:"controller_role_arn"`
	DefaultInstanceProfile   types.String    `tfsdk:"default_instance_profile"`
	Image                    types.String    `tfsdk:"image"`
	Replicas                 types.Int64     `tfsdk:"replicas"`
	LogLevel                 types.String    `tfsdk:"log_level"`
	BatchIdleDurationSeconds types.Int64     `tfsdk:"batch_idle_duration_seconds"`
	BatchMaxDurationSeconds  types.Int64     `tfsdk:"batch_max_duration_seconds"`
	MissingObjects           types.List      `tfsdk:"missing_objects"`
	CRDDigests               types.Map       `tfsdk:"crd_digests"`
	Resources                *resourcesModel `tfsdk:"resources"`
	PriorityClassName        types.String    `tfsdk:"priority_class_name"`
	NodeSelector             types.Map       `tfsdk:"node_selector"`
	ImagePullSecrets         types.List      `tfsdk:"image_pull_secrets"`
	Tolerations              types.List      `tfsdk:"tolerations"`
	TopologySpread           types.List      `tfsdk:"topology_spread_constraints"`
	Affinity                 types.String    `tfsdk:"affinity"`
	PDBMaxUnavailable        types.Int64     `tfsdk:"pdb_max_unavailable"`
	Env                      types.Map       `tfsdk:"env"`
	Settings                 types.Map       `tfsdk:"settings"`
	DefaultTags              types.Map       `tfsdk:"default_tags"`
	Timeouts                 timeouts.Value  `tfsdk:"timeouts"`
}

type resourcesModel struct {
	CPURequest    types.String `tfsdk:"cpu_request"`
	MemoryRequest types.String `tfsdk:"memory_request"`
	CPULimit      types.String `tfsdk:"cpu_limit"`
	MemoryLimit   types.String `tfsdk:"memory_limit"`
}

// Metadata names the resource karpenter_controller.
func (r *controllerResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_controller"
}

// controllerDescription is the resource description (ownership and destroy rules).
var controllerDescription = "Installs the Karpenter controller: the `Provisioner` CRD, a service account annotated " +
	"with the controller role (`eks.amazonaws.com/role-arn`), RBAC, a Deployment of the bundled controller image, and its " +
	"validating admission webhook for Provisioners (Service `" + webhookServiceName + "`, port 443 to container port 8443, and the " +
	"ValidatingWebhookConfiguration `karpenter-<namespace>`).\n\n" +
	"**Waiting.** Create and update (including a move to another `namespace` or `service_account_name`) wait until the " +
	"Deployment's rollout is complete: its new generation observed, `replicas` pods running the current pod template and " +
	"no pod of an older one left (as `kubectl rollout status` requires), and all of them available (Ready) but the " +
	"rolling update's `maxUnavailable` of 1, as Helm's `--wait` counts, and never none: with `replicas = 1` that one must " +
	"run. The Deployment's `Available` condition is not enough (for one replica it holds while none runs). The " +
	"wait ends with an error when the `timeouts` (`create`, `update`; default 10 minutes each) run out, when the " +
	"Deployment's progress deadline (600 seconds) passes without progress, or when the API server refuses its pods for " +
	"30 seconds (e.g. a ResourceQuota); the error says what is left (e.g. `0 of 2 updated replicas available, 1 old " +
	"replica still running`) and names the pods that wait and why (an image that cannot be pulled, `ErrImagePull`, " +
	"with the image; a pod no node can take, with the scheduler's message). With the default `affinity` each replica " +
	"needs its own node; on a cluster with one node that can take them, one of the default 2 replicas runs and the " +
	"other stays Pending until a second node comes, which the wait accepts. A create that fails is tainted " +
	"(`install_complete = false`, see Ownership). An update that fails keeps the new settings in state (they are " +
	"applied: Kubernetes keeps rolling out, and the old pods that still run keep working; with `replicas = 1` none " +
	"does, as the rolling update's `maxUnavailable` of 1 lets the old pod go at once) with `install_complete = " +
	"false`, so that the next plan shows an update (`install_complete` back to `true`) that re-applies them and waits " +
	"again: fix the cause (e.g. the `image`) and apply.\n\n" +
	"**RBAC.** The ClusterRole `karpenter-<namespace>` grants the calls the controller makes and no more (fewer than " +
	"the Helm chart's). The Role `karpenter` in the namespace grants `get` and `update` of the leader-election Lease `" +
	leaderLeaseName + "` and of the Secret `" + webhookCertSecret + "` by name, and `create` of Leases of any name in " +
	"the namespace: Kubernetes RBAC cannot restrict `create` by `resourceNames` (the object's name is not part of the " +
	"request it authorizes), and the Helm chart has the same limit. So in an adopted namespace such as `kube-system` " +
	"the controller could create other Leases, but it cannot read, update or delete any Lease but its own.\n\n" +
	"**Webhook.** The controller refuses, on `kubectl apply` as `terraform plan` does, the Provisioners the CRD cannot " +
	"judge (user data that does not parse for its AMI family, labels and requirements that " +
	"together allow a key no value, such as `karpenter.sh/capacity-type` `DoesNotExist` (every node has a capacity " +
	"type), and `limits` resource names that are not qualified names). It issues its own serving certificate into the Secret `" +
	webhookCertSecret + "` (which this resource creates empty; the controller may only read and fill it, never create " +
	"Secrets) and writes the CA into the configuration's `caBundle` (neither is drift: the controller keeps them, and " +
	"renews the certificate 30 days before it expires). After a new CA (the Secret deleted and re-created), each replica " +
	"serves the new certificate within a minute; until then calls to a replica still serving the old one fail and are " +
	"admitted. `failurePolicy` is `Ignore`: while no replica answers, Provisioner " +
	"changes are not blocked (plan and the controller's check before each launch still refuse them). On EKS the " +
	"control plane must reach the nodes on port 8443 (a node security group rule, as for Karpenter's own webhook).\n\n" +
	"**Ownership.** The namespace is created only if it does not exist (annotated `" + createdByAnnotation + "`, " +
	"`namespace_created = true`) and is then deleted on destroy (and by a replacement or move), unless it then holds " +
	"objects this provider did not create (ConfigMaps, Secrets, service accounts, Services, pods, claims, workloads, " +
	"Roles, RoleBindings), which deleting it would delete: it is then kept, with a warning naming them; an existing namespace (`kube-system`, a shared one) " +
	"is adopted: never labelled, changed or deleted, and the other objects in it are never touched. Create refuses, " +
	"before it changes anything and then without state (so that no destroy can follow), and the plan already refuses " +
	"when the cluster is reachable (an error at `namespace`): a service account, Role, RoleBinding, Deployment, " +
	"Secret, Service, ClusterRole, ClusterRoleBinding or ValidatingWebhookConfiguration of the same name that this " +
	"provider did not apply (an update, and its plan, refuse one that replaced the installation's own); another " +
	"installation in the namespace, i.e. a controller Deployment whose annotation `" + installIDAnnotation + "` names " +
	"another resource instance (of another Terraform state or workspace, or one whose state was lost: import it), " +
	"unless `take_over_installation`; and, when no controller Deployment of the installation runs in the namespace, " +
	"a leader-election Lease `" + leaderLeaseName + "` there that is held (renewed less than its duration ago), whose " +
	"holder is then someone else's and whose controller would wait for it and never act, or that names a holder with a " +
	"duration above 20 seconds even if expired (client-go's leader election waits a holder's whole duration from when it " +
	"first sees the record, whatever its renewTime: delete such a Lease if its holder is gone); a released Lease, or an " +
	"expired one of at most 20 seconds (the controller's own is 15), is taken over; a record ending within 20 seconds, " +
	"left by a replica that was killed, is waited for unless renewed. The objects of an installation whose " +
	"Deployment is gone (a create that failed before applying it, a Deployment deleted outside Terraform) are " +
	"re-applied. A create that failed later keeps its state (`install_complete = false`, tainted): the next apply " +
	"replaces it, destroying its objects first (with `create_before_destroy`, `take_over_installation` is needed). " +
	"Moves refuse the same in their target. An instance whose installation another instance took over (its Deployment " +
	"carries that instance's install id, e.g. after a create with `take_over_installation` in another Terraform state " +
	"or workspace) no longer applies it: its refresh keeps its state (the installation's settings are now the other " +
	"instance's, not drift) and shows the take-over in `missing_objects` (`Deployment <namespace>/karpenter " +
	"(changed: taken over by install id <id>)`); its plan then plans nothing (a warning at `namespace`, \"Installation " +
	"taken over: nothing planned\", names both install ids), and the plan of a change of its configuration (when the " +
	"cluster is reachable) and its apply refuse, before anything changes, to take it back (by an update or a move): an " +
	"error at `namespace` naming both install ids and how to proceed. To leave the installation to the other state, " +
	"`terraform state rm` this resource or destroy it (`terraform destroy`, with this resource's configuration " +
	"unchanged: Terraform plans the configuration before a destroy, and a pending change is refused there too; its " +
	"destroy removes nothing, with a warning naming the install id that took it over); to " +
	"manage it from this state, `terraform state rm` it in the other state, then `terraform state rm` and `terraform " +
	"import` it here. The predecessor of a `create_before_destroy` replacement in the same state is taken over the same " +
	"way and needs no exception: Terraform only destroys it (a deposed object), which removes nothing. When the plan " +
	"cannot read the cluster (no usable Kubernetes configuration, an unreachable API server), a warning at `namespace` " +
	"says that these checks were skipped; the apply runs them first.\n\n" +
	"**One controller per cluster.** Karpenter controllers do not divide a cluster between them: every controller acts " +
	"on every Provisioner. The plan of a create or of a move to another `namespace` (when the cluster is reachable) " +
	"and the create or move itself warn at `namespace`, without refusing, when a Karpenter controller Deployment " +
	"that is not this installation runs in another namespace. A Karpenter controller Deployment is any Deployment " +
	"labelled `app.kubernetes.io/name=karpenter`, whatever its `app.kubernetes.io/instance` (the Helm chart's, " +
	"another `karpenter_controller`'s), that is not being deleted; it runs unless scaled to zero (`spec.replicas` 0), " +
	"and one scaled to zero is not warned about (it acts on nothing). The warning names it (namespace/name, and its " +
	"install id when it carries the annotation `" + installIDAnnotation + "`) and says that both controllers act on " +
	"every Provisioner, so both would launch nodes for the same pending pods. A move never counts the installation it " +
	"leaves. Terraform plans each change again during the apply: the create or move warns only about controllers that " +
	"plan did not name (one that appeared since, or all when that plan could not read the cluster), so `terraform " +
	"apply` shows the warning once for its plan and once for the apply's plan.\n\n" +
	"**Destroy.** Only destroying the *last* controller (no other Karpenter controller Deployment, as defined above, " +
	"is left in the cluster, counting one scaled to zero: a Helm release scaled down still has its Provisioners in the " +
	"CRD, which deleting the CRD would delete) once no Provisioner is left (`karpenter_provisioner` resources depend on the controller, " +
	"so `terraform destroy` deletes them first and nothing relaunches) removes what the controllers share: every " +
	"launched node (label `karpenter.sh/provisioner-name`; the still running controller terminates their " +
	"instances), then the controller's objects, the NodeClaims and instances left, its launch templates and the " +
	"Provisioner CRD. A replacement (`-replace`, with or without `create_before_destroy`) never removes nodes: the " +
	"Provisioners are still there, so the old controller's destroy removes only its own objects (the warning " +
	"\"Launched nodes left in place\" names the Provisioners) and the new controller takes the nodes over; with " +
	"`create_before_destroy` (which needs `take_over_installation = true`) the new instance re-applies the same objects " +
	"first (its install id in the annotation `" + installIDAnnotation + "` on the Deployment) and the old one's destroy " +
	"then removes nothing (the warning \"Installation taken over: nothing removed\" names the new install id and the " +
	"Provisioners); Terraform shows both in the apply's output. Provisioners made outside Terraform are never deleted: " +
	"delete them before destroying the last controller, or their nodes stay. Destroying a controller " +
	"while another Karpenter controller Deployment is left removes only its own objects, with a warning (\"Shared " +
	"objects left to another Karpenter controller\") naming the others (`(scaled to zero)` for one with no replicas); " +
	"so does destroying one whose create failed (tainted, so replaced; `install_complete = false`), without the warning. Changing " +
	"`namespace` or `service_account_name` is an in-place update that never removes nodes: the plan, and the apply " +
	"before anything is changed, refuse a target holding objects of the same names that this provider did not apply " +
	"(the old installation then keeps running); the old Deployment is " +
	"scaled to zero first (so two controllers never run at once), the installation is applied under the new names, then " +
	"the old objects this provider applied (and the old namespace, if it was created) are deleted. A move that fails at any " +
	"step after that (an object the API server refuses, e.g. by a ResourceQuota or an admission policy, or a Deployment " +
	"whose rollout does not complete in time) is undone: the Deployment it created is deleted, the old installation is re-applied " +
	"(its Deployment scaled back) and waited for, the other objects and the namespace the move created are deleted, and " +
	"Terraform state keeps describing the old installation, so that the next apply, once the cause is gone, moves it. " +
	"`service_account_name` is the account this resource applied: a Deployment switched to another account outside " +
	"Terraform is drift (`missing_objects`) that the next apply reverts, and a service account this provider did not " +
	"apply is never deleted. Destroy and moves also delete the controller's leader-election Lease " +
	"(`karpenter-leader-election`) in an adopted namespace.\n\n" +
	"Import by namespace."

// takeOverDescription is the MarkdownDescription of take_over_installation.
var takeOverDescription = "Whether create may take over a running installation in `namespace` that another " +
	"`karpenter_controller` resource instance applied (its Deployment's `" + installIDAnnotation + "` names another " +
	"instance, or none). Default `false`: create refuses, and so does the plan when the cluster is reachable, so that a " +
	"second installation from another Terraform state or workspace never overwrites the running one (whose destroy " +
	"would then be skipped, while this one's would remove it and a namespace it did not create). Set it for a " +
	"`create_before_destroy` replacement: Terraform does not tell a provider that a create is half of a replacement, " +
	"so the new instance finds its predecessor's installation running and needs this to take it over (the " +
	"predecessor's destroy then removes nothing). A replacement that destroys first, or a namespace move, needs " +
	"nothing. Changing it alone re-applies the installation. It never lets an update take an installation back: the " +
	"instance taken over refuses to apply it (see the resource's Ownership)."

// Schema describes the resource.
func (r *controllerResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	k8sName := []validator.String{stringvalidator.LengthBetween(1, 63),
		stringvalidator.RegexMatches(mustRegexp(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`), "must be a DNS-1123 label")}
	resp.Schema = schema.Schema{
		MarkdownDescription: controllerDescription,
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The namespace.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"cluster_name": schema.StringAttribute{Required: true, MarkdownDescription: "EKS cluster name (`CLUSTER_NAME`).",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 100)}},
			"cluster_endpoint": schema.StringAttribute{Optional: true, Computed: true,
				MarkdownDescription: "API server URL given to launched nodes (`CLUSTER_ENDPOINT`). Default: the endpoint EKS " +
					"`DescribeCluster` reports, looked up at every plan, so that a `CLUSTER_ENDPOINT` changed outside Terraform " +
					"plans an update back to it (a failed lookup is a warning, and an error on create).",
				Validators:    []validator.String{stringvalidator.RegexMatches(mustRegexp(`^https?://`), "must be an http(s) URL")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"namespace": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("karpenter"),
				MarkdownDescription: "Namespace of the controller. Default `karpenter`. Created if absent, adopted (never changed " +
					"or deleted) if it exists. Changing it moves the installation in place; launched nodes and Provisioners stay.",
				Validators: k8sName},
			"namespace_created": schema.BoolAttribute{Computed: true,
				MarkdownDescription: "Whether this resource created the namespace (and so deletes it on destroy). False for an " +
					"adopted namespace. After an import, true when the namespace carries the `" + createdByAnnotation + "` annotation.",
				PlanModifiers: []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()}},
			"install_complete": schema.BoolAttribute{Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Whether the last create or update finished (the Deployment's rollout completed); always " +
					"planned `true`. A controller whose create failed (`false`; Terraform taints it) is replaced or destroyed " +
					"without removing launched nodes, Provisioners or the CRD. After a failed update it is `false` too (not " +
					"tainted): the next plan shows an update back to `true`, which re-applies the installation and waits for " +
					"its rollout again; its destroy is that of a complete installation."},
			"take_over_installation": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: takeOverDescription},
			"service_account_name": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("karpenter"),
				MarkdownDescription: "Service account of the controller. Default `karpenter`. Changing it is an in-place update " +
					"(the old service account is deleted afterwards); launched nodes stay.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 253)}},
			"controller_role_arn": schema.StringAttribute{Optional: true, MarkdownDescription: "IAM role of the controller for IRSA (annotation `eks.amazonaws.com/role-arn`). Leave unset with EKS Pod Identity (`karpenter_controller_role` with `identity = \"pod_identity\"`): the annotation would make the SDK try IRSA first.",
				Validators: []validator.String{stringvalidator.RegexMatches(mustRegexp(roleARNPattern), "must be an IAM role ARN")}},
			"default_instance_profile": schema.StringAttribute{Required: true, MarkdownDescription: "Instance profile of launched nodes when a Provisioner names none (`AWS_DEFAULT_INSTANCE_PROFILE`).",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 128)}},
			"image": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(version.ControllerImage()),
				MarkdownDescription: "Controller image. Default: the bundled `" + version.ControllerImageRepository + ":<provider version>`.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)}},
			"replicas": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(2),
				MarkdownDescription: "Controller replicas. Default 2 (as the Helm chart): one leads through the Lease " +
					"`karpenter-leader-election` in the namespace, the other takes over within seconds when it goes. With the " +
					"default `affinity` each replica needs its own node; create and update wait until all replicas but one " +
					"(the rolling update's `maxUnavailable`) are available, and at least one.",
				Validators: []validator.Int64{int64validator.Between(1, 10)}},
			"log_level": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("info"),
				MarkdownDescription: "`debug`, `info`, `warn` or `error` (`LOG_LEVEL`). Default `info`.",
				Validators:          []validator.String{stringvalidator.OneOf("debug", "info", "warn", "error")}},
			"batch_idle_duration_seconds": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(1),
				MarkdownDescription: "Seconds without new pending pods that close a batch (`BATCH_IDLE_DURATION`). Default 1. " +
					"A batch also closes at the end of each such interval after the first that brought no more new pending pods " +
					"than the interval before it: the pods arrive in a steady or ebbing stream, and waiting only delays those seen.",
				Validators: []validator.Int64{int64validator.Between(1, 3600)}},
			"missing_objects": schema.ListAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: missingObjectsDescription,
				PlanModifiers:       []planmodifier.List{nothingMissing{}}},
			"default_tags": schema.MapAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "The provider's `default_tags` as the controller receives them (`DEFAULT_TAGS`, a JSON " +
					"object; the controller tags the instances and launch templates it creates with them); null when there are " +
					"none. Planned from the provider block, so that changing only the provider's `default_tags` plans an update " +
					"of the controller showing the tags, and read back from the Deployment, so that a `DEFAULT_TAGS` changed " +
					"outside Terraform shows as drift (one that is not a JSON object of strings reads as null and also lists the " +
					"Deployment in `missing_objects`)."},
			"batch_max_duration_seconds": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(10),
				MarkdownDescription: "Maximum seconds a batch stays open (`BATCH_MAX_DURATION`). Default 10.",
				Validators:          []validator.Int64{int64validator.Between(1, 3600)}},
		},
		Blocks: map[string]schema.Block{
			"resources": schema.SingleNestedBlock{
				MarkdownDescription: "Resource requests and limits of the controller container. Omitted: `1` CPU and `1Gi` " +
					"memory requested, `1Gi` memory limit, no CPU limit (the block then stays absent in state unless the live " +
					"values differ from these defaults, which `missing_objects` also names as `resources` in the Deployment's " +
					"entry). A limit below its request is refused at plan time.",
				PlanModifiers: []planmodifier.Object{objectplanmodifier.UseStateForUnknown()},
				Attributes: map[string]schema.Attribute{
					"cpu_request": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(defaultCPURequest),
						MarkdownDescription: "CPU request (quantity). Default `1`.", Validators: []validator.String{quantityValidator{}}},
					"memory_request": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(defaultMemoryRequest),
						MarkdownDescription: "Memory request (quantity). Default `1Gi`.", Validators: []validator.String{quantityValidator{}}},
					"cpu_limit": schema.StringAttribute{Optional: true,
						MarkdownDescription: "CPU limit (quantity). Default: none (the controller may use idle CPU of its node).", Validators: []validator.String{quantityValidator{}}},
					"memory_limit": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(defaultMemoryLimit),
						MarkdownDescription: "Memory limit (quantity). Default `1Gi`.", Validators: []validator.String{quantityValidator{}}},
				},
			},
			"timeouts": controllerTimeoutsBlock(ctx),
		},
	}
	maps.Copy(resp.Schema.Attributes, installOptionAttributes())
	resp.Schema.Attributes["crd_digests"] = crdDigestsAttribute()
}

// controllerTimeoutsBlock is the timeouts block (Go durations such as "30s" or "15m"), with
// the defaults and what each bounds in its descriptions.
func controllerTimeoutsBlock(ctx context.Context) schema.Block {
	wait := "the wait for the Deployment's rollout to complete (every replica running the current pod template, no " +
		"old pod left, all but `maxUnavailable` 1 of them available and at least one)"
	b := timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true,
		CreateDescription: "Time for the create, including " + wait + ", as a duration (units `s`, `m`, `h`: `\"30s\"`, `\"15m\"`). Default `" +
			defaultCreateTimeout.String() + "` (10 minutes). When it runs out the create fails (tainted), naming the pods " +
			"that wait and why.",
		UpdateDescription: "Time for an update (and a move to another `namespace` or `service_account_name`), including " + wait +
			", as a duration. Default `" + defaultCreateTimeout.String() + "` (10 minutes). When it runs out the update fails, " +
			"naming the pods that wait and why; state keeps the new settings with `install_complete = false`, so that the " +
			"next plan re-applies them.",
		DeleteDescription: "Time for the destroy, as a duration. Default `" + defaultDeleteTimeout.String() + "` (15 minutes). " +
			"It applies only once saved in state before the destroy (an apply with it first).",
	}).(schema.SingleNestedBlock)
	b.MarkdownDescription = "Time limits of create, update and delete (Go durations). Defaults: create and update " +
		"10 minutes each, delete 15 minutes. Create and update wait for the controller Deployment's rollout to complete " +
		"(the Deployment's progress deadline, 600 seconds, ends that wait earlier when it passes without progress)."
	return b
}

// Configure receives the provider's clients.
func (r *controllerResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = clientsFrom(req.ProviderData, &resp.Diagnostics)
}

// Create installs everything and waits until the Deployment's rollout is complete
// (waitRollout, as `kubectl rollout status`). When it fails,
// install_complete is false in state (Terraform keeps no private state of a failed create).
func (r *controllerResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m controllerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := m.Timeouts.Create(ctx, defaultCreateTimeout)
	if resp.Diagnostics.Append(diags...); resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m.ID = m.Namespace
	m.MissingObjects = listValue(nil)
	m.DefaultTags = mapValue(r.c.defaultTags, true)
	id := newInstallID()
	// Refused before anything changes, and then without state: a destroy of a refused
	// instance must never find the running installation it was refused for.
	if !r.checkCreateTarget(ctx, m, id, &resp.Diagnostics) {
		return
	}
	if kc, err := r.c.kube(); err == nil {
		r.warnOthers(ctx, kc, m.Namespace.ValueString(), id, "", &resp.Diagnostics)
	}
	resp.Diagnostics.Append(setInstallID(ctx, resp.Private, id)...)
	r.install(ctx, &m, false, id, &resp.Diagnostics) // checkCreateTarget refused foreign objects
	m.InstallComplete = types.BoolValue(!resp.Diagnostics.HasError())
	if resp.Diagnostics.HasError() {
		if m.NamespaceCreated.IsUnknown() { // failed before the namespace was looked at
			m.NamespaceCreated = types.BoolValue(false)
		}
	}
	if !resp.Diagnostics.HasError() || !m.ClusterEndpoint.IsUnknown() {
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	}
	if !resp.Diagnostics.HasError() {
		r.endHandover(ctx, m, &resp.Diagnostics)
	}
}

// addTargetError adds err as an error at attribute at: a targetTaken with its own summary and
// detail, any other error (the check could not run) under summary.
func addTargetError(at path.Path, summary string, err error, diags *diag.Diagnostics) {
	var taken targetTaken
	if errors.As(err, &taken) {
		diags.AddAttributeError(at, taken.summary, taken.detail)
		return
	}
	diags.AddAttributeError(at, summary, err.Error())
}

// checkCreateTarget checks, before Create changes anything, that installation m (install id
// id) may use its namespace (checkInstallTarget: no foreign objects, no other installation
// unless take_over_installation, no leader-election Lease held by someone else). A refusal is
// an error at namespace; false: refused or unreadable.
func (r *controllerResource) checkCreateTarget(ctx context.Context, m controllerModel, id string, diags *diag.Diagnostics) bool {
	kc, err := r.c.kube()
	if err != nil {
		diags.AddError("Kubernetes client", err.Error())
		return false
	}
	s := controllerSettings{Namespace: m.Namespace.ValueString(), ServiceAccountName: m.ServiceAccountName.ValueString()}
	err = checkInstallTarget(ctx, kc, s, installTarget{installID: id, takeOver: m.TakeOverInstallation.ValueBool()})
	if err != nil {
		addTargetError(path.Root("namespace"), "Cannot read the target of the installation", err, diags)
		return false
	}
	return true
}

// endHandover ends the hand-over of the controller role to m's service account
// (controller_handover.go) once the installation runs under it: the role stops trusting the
// service account it kept for the move. Errors are reported as an error diagnostic (the
// installation is complete; Read shows the hand-over as drift, so the next apply retries).
func (r *controllerResource) endHandover(ctx context.Context, m controllerModel, diags *diag.Diagnostics) {
	h, found, err := r.c.pendingHandover(ctx, m.ClusterName.ValueString(), m.Namespace.ValueString(), m.ServiceAccountName.ValueString(),
		m.ControllerRoleARN.ValueString())
	if err == nil && found {
		err = r.c.releaseHandover(ctx, m.ClusterName.ValueString(), h)
	}
	if err != nil {
		diags.AddError("Cannot end the controller role's hand-over", fmt.Sprintf("The controller runs under service account %s/%s, but "+
			"its IAM role %s still trusts the previous one, %s: %v. Apply again to retry.",
			m.Namespace.ValueString(), m.ServiceAccountName.ValueString(), h.role, h.previous, err))
	}
}

// Read refreshes settings from the Deployment and service account; a missing Deployment
// leaves state. An installation another instance took over (the Deployment carries another
// install id than private state's) keeps state as it is, with missing_objects naming the
// take-over only (readTakenOver): its settings are that instance's, not drift of this one.
// namespace_created, when unknown to state (import), comes from the namespace's
// createdByAnnotation.
func (r *controllerResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m controllerModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	kc, err := r.c.kube()
	if err != nil {
		resp.Diagnostics.AddError("Kubernetes client", err.Error())
		return
	}
	ns := m.ID.ValueString()
	var d appsv1.Deployment
	err = kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: deploymentName}, &d)
	if apierrors.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the controller Deployment", err.Error())
		return
	}
	ctr := controllerContainer(&d)
	if ctr == nil {
		resp.State.RemoveResource(ctx) // not ours any more: plan re-creation
		return
	}
	if m.NamespaceCreated.IsNull() || m.NamespaceCreated.IsUnknown() {
		var nsObj corev1.Namespace
		if err := kc.Get(ctx, client.ObjectKey{Name: ns}, &nsObj); err != nil {
			resp.Diagnostics.AddError("Cannot read namespace "+ns, err.Error())
			return
		}
		m.NamespaceCreated = types.BoolValue(nsObj.Annotations[createdByAnnotation] == createdByController)
	}
	own := r.readInstallID(ctx, req, resp, &d)
	// Null after an import, or in state from before the attribute.
	m.InstallComplete = types.BoolValue(m.InstallComplete.IsNull() || m.InstallComplete.ValueBool())
	m.TakeOverInstallation = types.BoolValue(m.TakeOverInstallation.ValueBool())
	m.Namespace = types.StringValue(ns)
	if readTakenOver(ctx, kc, &d, own, m, resp) {
		return
	}
	importing := m.ServiceAccountName.IsNull() || m.ServiceAccountName.IsUnknown() || m.ServiceAccountName.ValueString() == ""
	if importing {
		// Import: the service account the Deployment runs as. Otherwise state keeps the one this
		// resource applied: a serviceAccountName changed outside Terraform is drift of the
		// Deployment (deploymentChanges), never a move away from the account this resource made
		// (which would delete the other as the previous installation's).
		m.ServiceAccountName = types.StringValue(d.Spec.Template.Spec.ServiceAccountName)
	}
	m.Image = types.StringValue(ctr.Image)
	m.Replicas = types.Int64Value(1)
	if d.Spec.Replicas != nil {
		m.Replicas = types.Int64Value(int64(*d.Spec.Replicas))
	}
	m.ClusterName = types.StringValue(envValue(*ctr, envClusterName))
	m.ClusterEndpoint = types.StringValue(envValue(*ctr, envClusterEndpoint))
	m.DefaultInstanceProfile = types.StringValue(envValue(*ctr, envDefaultInstanceProfile))
	m.LogLevel = types.StringValue(envValue(*ctr, envLogLevel))
	m.BatchIdleDurationSeconds = secondsValue(envValue(*ctr, envBatchIdle))
	m.BatchMaxDurationSeconds = secondsValue(envValue(*ctr, envBatchMax))
	m.DefaultTags, _ = defaultTagsValue(*ctr)
	// Omitted (and not importing): the Deployment's resources are compared with the defaults
	// the provider applied, so that drift shows in missing_objects too, naming them.
	defaultResources := m.Resources == nil && !importing
	m.Resources = resourcesValue(ctr.Resources, m.Resources)
	var pdb policyv1.PodDisruptionBudget
	var pdbMax *int32
	if err := kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: deploymentName}, &pdb); err == nil {
		if mu := pdb.Spec.MaxUnavailable; mu != nil && mu.Type == intstr.Int {
			pdbMax = &mu.IntVal
		}
	} else if !apierrors.IsNotFound(err) {
		resp.Diagnostics.AddError("Cannot read the controller PodDisruptionBudget", err.Error())
		return
	}
	readInstallOptions(&m, d.Spec.Template.Spec, *ctr, pdbMax)
	// The pod template's credentials annotation is compared with the role this resource applied
	// (on import, the one the service account names): a role annotation changed on the service
	// account alone is drift of controller_role_arn, not of the Deployment.
	appliedRole := m.ControllerRoleARN.ValueString()
	var sa corev1.ServiceAccount
	m.ControllerRoleARN = types.StringNull()
	if err := kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: m.ServiceAccountName.ValueString()}, &sa); err == nil {
		m.ControllerRoleARN = optString(sa.Annotations[roleARNAnnotation])
	} else if !apierrors.IsNotFound(err) {
		resp.Diagnostics.AddError("Cannot read the controller service account", err.Error())
		return
	}
	if importing {
		appliedRole = m.ControllerRoleARN.ValueString()
	}
	cur := r.settings(ctx, m, &resp.Diagnostics)
	cur.InstallID = own // another instance's id on the Deployment: taken over (deploymentChanges)
	missing, err := r.driftedObjects(ctx, kc, cur, m.NamespaceCreated.ValueBool(), &d, *ctr, appliedRole, defaultResources)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the controller installation", err.Error())
		return
	}
	// A hand-over of the role that outlived the move (its release failed): the next apply ends it.
	if h, found, err := r.c.pendingHandover(ctx, m.ClusterName.ValueString(), ns, m.ServiceAccountName.ValueString(), appliedRole); err != nil {
		tflog.Warn(ctx, "cannot read the controller role's hand-over", map[string]any{"error": err.Error()})
	} else if found {
		missing = append(missing, "IAM role "+h.role+" (still trusts the previous service account "+h.previous+")")
	}
	m.MissingObjects = listValue(missing)
	if m.CRDDigests, err = liveCRDDigests(ctx, kc); err != nil {
		resp.Diagnostics.AddError("Cannot read the CRDs", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// controllerContainer returns Deployment d's container named containerName (the last of that
// name), nil when it has none.
func controllerContainer(d *appsv1.Deployment) *corev1.Container {
	var ctr *corev1.Container
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == containerName {
			ctr = &d.Spec.Template.Spec.Containers[i]
		}
	}
	return ctr
}

// readTakenOver reads, when another instance took the installation over (Deployment d carries
// its install id, not own: see takenOverBy), state m as it is but for missing_objects, which
// names the take-over only: the installation's settings are that instance's, not drift of this
// one. Returns whether it did (Read is done).
func readTakenOver(ctx context.Context, kc client.Client, d *appsv1.Deployment, own string, m controllerModel, resp *resource.ReadResponse) bool {
	by := takenOverBy(d, own)
	if by == "" {
		return false
	}
	m.MissingObjects = listValue([]string{objectName(kc, d) + " (changed: taken over by install id " + by + ")"})
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	return true
}

// takenOverBy returns the install id on Deployment d when it names another instance than own
// (the instance's install id; "" from before install ids: never), i.e. that instance took the
// installation over; else "".
func takenOverBy(d *appsv1.Deployment, own string) string {
	if by := d.Annotations[installIDAnnotation]; own != "" && by != own {
		return by
	}
	return ""
}

// readInstallID keeps the install id of Deployment d in private state when there is none
// (import), and records d's installation as this Terraform state's (noteInstallation) unless
// private state names another instance's id (it was taken over: by a create_before_destroy
// replacement, whose deposed predecessor this is, or from another Terraform state), so that a
// replacement planned next is not refused as another installation. Returns the instance's
// install id ("" when it had none: an import adopts d's, which is then no drift).
func (r *controllerResource) readInstallID(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse, d *appsv1.Deployment) string {
	own, live := getInstallID(ctx, req.Private, &resp.Diagnostics), d.Annotations[installIDAnnotation]
	if live != "" && own == "" {
		resp.Diagnostics.Append(setInstallID(ctx, resp.Private, live)...) // import
	}
	if r.c != nil && (own == "" || own == live) {
		r.c.noteInstallation(d.Namespace, live)
	}
	return own
}

// ModifyPlan plans default_tags as the provider's default_tags; cluster_endpoint, when the configuration leaves it unset, as the endpoint
// EKS DescribeCluster reports (what Create and Update write to CLUSTER_ENDPOINT), so that a
// changed CLUSTER_ENDPOINT shows as drift; and id (and namespace_created, unknown) for a move
// to another namespace. When the cluster can be read it refuses, as errors at namespace, what
// the apply would refuse (planCreateTarget, planTakenOver, planMoveTarget, planForeign); when it
// cannot, a warning at namespace says that these checks were skipped (planChecksSkipped).
func (r *controllerResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() { // destroy
		return
	}
	r.planClusterEndpoint(ctx, req, resp)
	if r.c != nil {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("default_tags"), mapValue(r.c.defaultTags, true))...)
	}
	var plan, state controllerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if req.State.Raw.IsNull() {
		skipped := r.planCreateTarget(ctx, plan, &resp.Diagnostics)
		if skipped == nil {
			skipped = r.planControllersElsewhere(ctx, plan.Namespace, "", "", &resp.Diagnostics)
		}
		planChecksSkipped(plan.Namespace, skipped, &resp.Diagnostics)
		return
	}
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	own := getInstallID(ctx, req.Private, &resp.Diagnostics)
	if r.c != nil {
		r.c.noteInstallation(state.ID.ValueString(), own) // e.g. -replace with -refresh=false
	}
	if resp.Plan.Raw.Equal(req.State.Raw) {
		return // nothing to apply
	}
	done, skipped := r.planTakenOver(ctx, req, resp, state, own)
	if done {
		return
	}
	if skipped == nil {
		skipped = r.planMoveTarget(ctx, plan, state, own, &resp.Diagnostics)
	}
	if plan.Namespace.IsUnknown() || plan.Namespace.Equal(state.ID) {
		if skipped == nil {
			skipped = r.planForeign(ctx, state, &resp.Diagnostics)
		}
		planChecksSkipped(state.ID, skipped, &resp.Diagnostics)
		return
	}
	if skipped == nil {
		skipped = r.planControllersElsewhere(ctx, plan.Namespace, own, state.ID.ValueString(), &resp.Diagnostics)
	}
	planChecksSkipped(plan.Namespace, skipped, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), plan.Namespace)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("namespace_created"), types.BoolUnknown())...)
}

// planChecksSkipped warns, at namespace, when skipped (the error of a plan check that could not
// read the cluster: no usable Kubernetes configuration, e.g. one not known until apply, or an
// API server that cannot be reached) is not nil, that the plan did not check what the apply
// checks first; namespace names the namespace the checks were for (unknown: not named).
func planChecksSkipped(namespace types.String, skipped error, diags *diag.Diagnostics) {
	if skipped == nil {
		return
	}
	in := "the namespace"
	if !namespace.IsUnknown() && !namespace.IsNull() {
		in = "namespace " + namespace.ValueString()
	}
	diags.AddAttributeWarning(path.Root("namespace"), "Ownership checks skipped: the cluster cannot be read",
		fmt.Sprintf("The plan could not read the cluster (%v), so it did not check %s for what the apply refuses: objects of "+
			"the installation's names that this provider did not apply, another installation (a controller Deployment "+
			"with another install id), a leader-election Lease held by someone else, and, for an update, an installation "+
			"that another karpenter_controller took over. The apply runs these checks first and refuses, before changing "+
			"anything, what they find.", skipped, in))
}

// planCreateTarget checks, for a create whose namespace and service account name are known,
// what Create checks first (checkInstallTarget), so that the plan reports the refusal with the
// same words: another installation in the namespace is refused unless take_over_installation
// (unknown: left to the apply) or an instance of the state being planned holds it (a
// replacement: noteInstallation). Returns the error that kept it from checking (the cluster
// cannot be read), else nil.
func (r *controllerResource) planCreateTarget(ctx context.Context, plan controllerModel, diags *diag.Diagnostics) error {
	if r.c == nil || diags.HasError() || plan.Namespace.IsUnknown() || plan.ServiceAccountName.IsUnknown() {
		return nil
	}
	kc, err := r.c.kube()
	if err != nil {
		return err
	}
	s := controllerSettings{Namespace: plan.Namespace.ValueString(), ServiceAccountName: plan.ServiceAccountName.ValueString()}
	t := installTarget{fresh: true, takeOver: plan.TakeOverInstallation.IsUnknown() || plan.TakeOverInstallation.ValueBool(), ours: r.c.knownInstallation}
	return planRefusal(path.Root("namespace"), "", checkInstallTarget(ctx, kc, s, t), diags)
}

// planControllersElsewhere warns, for a create or a move into namespace (known), when another
// Karpenter controller runs outside it (warnControllersElsewhere; own and from exclude this
// installation), and records what it found (noteOthersPlanned) for the apply. Returns the error
// that kept it from checking (the cluster cannot be read), else nil.
func (r *controllerResource) planControllersElsewhere(ctx context.Context, namespace types.String, own, from string, diags *diag.Diagnostics) error {
	if r.c == nil || diags.HasError() || namespace.IsUnknown() {
		return nil
	}
	kc, err := r.c.kube()
	if err != nil {
		return err
	}
	found, err := warnControllersElsewhere(ctx, kc, namespace.ValueString(), own, from, nil, diags)
	if err == nil {
		r.c.noteOthersPlanned(namespace.ValueString(), from, found)
	}
	return err
}

// warnOthers is warnControllersElsewhere at apply (create: own is the new install id; move:
// from is the namespace left): a failed list is a warning too, as it refuses nothing. The
// controllers that Terraform's plan of this change during the apply already warned about
// (othersPlanned) are not named again, so the warning shows once per plan, not also here;
// when that plan could not check, every one found is named.
func (r *controllerResource) warnOthers(ctx context.Context, kc client.Client, namespace, own, from string, diags *diag.Diagnostics) {
	if _, err := warnControllersElsewhere(ctx, kc, namespace, own, from, r.c.othersPlanned(namespace, from), diags); err != nil {
		diags.AddAttributeWarning(path.Root("namespace"), "Cannot check for other Karpenter controllers",
			fmt.Sprintf("Listing the Deployments labelled %s=karpenter failed: %v. Two controllers in a cluster both act on "+
				"every Provisioner.", nameLabel, err))
	}
}

// checkMoveTarget checks, before a move (to namespace or service account next) changes
// anything, that next may be used (checkInstallTarget for t): a refusal is an error at the
// attribute that changed, saying that the old installation was left as it was, and false. A
// move to another namespace then warns when another Karpenter controller runs outside it
// (warnOthers; the installation left is not counted).
func (r *controllerResource) checkMoveTarget(ctx context.Context, kc client.Client, old, next controllerSettings, t installTarget, diags *diag.Diagnostics) bool {
	moved := next.Namespace != old.Namespace
	if err := checkInstallTarget(ctx, kc, next, t); err != nil {
		at := path.Root("namespace")
		if !moved {
			at = path.Root("service_account_name")
		}
		diags.AddAttributeError(at, "Cannot move the installation", err.Error()+
			"; the installation in namespace "+old.Namespace+" with service account "+old.ServiceAccountName+" was left as it was")
		return false
	}
	if moved {
		r.warnOthers(ctx, kc, next.Namespace, t.installID, old.Namespace, diags)
	}
	return true
}

// planRefusal adds err, when it is a targetTaken (a refusal), as an error at attribute at
// (under summary, its own when ""), and returns any other error: the check could not run.
func planRefusal(at path.Path, summary string, err error, diags *diag.Diagnostics) error {
	var taken targetTaken
	if !errors.As(err, &taken) {
		return err
	}
	if summary == "" {
		summary = taken.summary
	}
	diags.AddAttributeError(at, summary, taken.detail)
	return nil
}

// planTakenOver checks, for an update of installation state (own: its install id), what Update
// checks first (checkNotTakenOver): another karpenter_controller took the installation over.
// Such an instance re-applies nothing, so what it only computes (missing_objects, crd_digests,
// default_tags, an unconfigured cluster_endpoint) is planned as in state: the other
// installation's drift is not its to revert. A plan left with no change then only warns
// (takenOverPlanned), so that a refresh followed by a plan, or by the destroy's own plan (which
// Terraform runs in the normal mode first, with the configuration), succeeds; a change of the
// configuration (an update or a move) is refused with the same words as Update, so that the
// plan, not only the apply, refuses to take it back. done: one of those was added (nothing more
// to check). Returns the error that kept it from checking, else nil.
func (r *controllerResource) planTakenOver(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, state controllerModel, own string) (done bool, skipped error) {
	if r.c == nil {
		return false, nil
	}
	kc, err := r.c.kube()
	if err != nil {
		return false, err
	}
	namespace := state.ID.ValueString()
	by, err := supersededBy(ctx, kc, namespace, own)
	if err != nil {
		return false, fmt.Errorf("reading Deployment %s/%s: %w", namespace, deploymentName, err)
	}
	if by == "" {
		return false, nil
	}
	kept := []string{"missing_objects", "crd_digests", "default_tags"}
	var endpoint types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("cluster_endpoint"), &endpoint)...)
	if endpoint.IsNull() {
		kept = append(kept, "cluster_endpoint")
	}
	for _, a := range kept {
		var v attr.Value
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root(a), &v)...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(a), v)...)
	}
	if resp.Diagnostics.HasError() {
		return true, nil
	}
	if resp.Plan.Raw.Equal(req.State.Raw) {
		summary, detail := takenOverPlanned(namespace, own, by)
		resp.Diagnostics.AddAttributeWarning(path.Root("namespace"), summary, detail)
		return true, nil
	}
	return true, planRefusal(path.Root("namespace"), "", takenOver(namespace, own, by), &resp.Diagnostics)
}

// planForeign checks, for an update in place, that no object of the installation in state
// was replaced by one this provider did not apply (refuseForeign), which Update refuses: the
// plan reports it with the same words. Returns the error that kept it from checking, else nil.
func (r *controllerResource) planForeign(ctx context.Context, state controllerModel, diags *diag.Diagnostics) error {
	if r.c == nil {
		return nil
	}
	kc, err := r.c.kube()
	if err != nil {
		return err
	}
	s := controllerSettings{Namespace: state.ID.ValueString(), ServiceAccountName: state.ServiceAccountName.ValueString()}
	return planRefusal(path.Root("namespace"), "", refuseForeign(ctx, kc, controllerObjects(s)), diags)
}

// planMoveTarget checks, when the plan moves the installation to another namespace or
// service account (both known), that the target can be used (checkInstallTarget: no object of
// the same names that this provider did not apply, no other installation, no leader-election
// Lease held by someone else; own is the install id in private state), so that the plan, not
// the apply, reports the conflict. Returns the error that kept it from checking (the apply
// checks again first), else nil.
func (r *controllerResource) planMoveTarget(ctx context.Context, plan, state controllerModel, own string, diags *diag.Diagnostics) error {
	if r.c == nil || plan.Namespace.IsUnknown() || plan.ServiceAccountName.IsUnknown() {
		return nil
	}
	moved := !plan.Namespace.Equal(state.ID)
	if !moved && plan.ServiceAccountName.Equal(state.ServiceAccountName) {
		return nil
	}
	kc, err := r.c.kube()
	if err != nil {
		return err
	}
	next := controllerSettings{Namespace: plan.Namespace.ValueString(), ServiceAccountName: plan.ServiceAccountName.ValueString()}
	t := installTarget{installID: own, takeOver: plan.TakeOverInstallation.IsUnknown() || plan.TakeOverInstallation.ValueBool()}
	at := path.Root("namespace")
	if !moved {
		at = path.Root("service_account_name")
	}
	return planRefusal(at, "Cannot move the installation", checkInstallTarget(ctx, kc, next, t), diags)
}

// planClusterEndpoint plans cluster_endpoint when the configuration leaves it null: unknown
// while cluster_name is unknown, else the cluster's endpoint from EKS DescribeCluster. When
// the lookup fails the planned value stays (the prior state's, or unknown on create, where
// Create reports the error) and a warning says that drift of CLUSTER_ENDPOINT is not checked.
func (r *controllerResource) planClusterEndpoint(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var configured, name types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("cluster_endpoint"), &configured)...)
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("cluster_name"), &name)...)
	if resp.Diagnostics.HasError() || !configured.IsNull() || r.c == nil || r.c.eks == nil {
		return
	}
	if name.IsUnknown() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("cluster_endpoint"), types.StringUnknown())...)
		return
	}
	out, err := r.c.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name.ValueString())})
	if err != nil || out.Cluster == nil || aws.ToString(out.Cluster.Endpoint) == "" {
		why := "DescribeCluster returned no endpoint"
		if err != nil {
			why = err.Error()
		}
		resp.Diagnostics.AddAttributeWarning(path.Root("cluster_endpoint"), "Cannot look up the cluster endpoint",
			"cluster_endpoint is unset, so the controller gets the endpoint of cluster "+name.ValueString()+
				" from EKS DescribeCluster; the lookup failed, so a change of CLUSTER_ENDPOINT outside Terraform is not "+
				"planned (set cluster_endpoint to avoid the lookup): "+why)
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("cluster_endpoint"), types.StringValue(aws.ToString(out.Cluster.Endpoint)))...)
}

// Update re-applies every object and waits until the Deployment's rollout is complete
// (waitRollout, as `kubectl rollout status`). An installation
// that another instance took over (checkNotTakenOver) is refused before anything changes, and
// state keeps its prior value. A new namespace or service account name moves the installation:
// a target holding someone else's objects is refused before anything changes
// (checkInstallTarget); the old Deployment is scaled to zero (after a namespace change), the
// installation applied under the new names, then the old objects removed (removeOldObjects).
// When the move fails at any step it is undone (undoMove) and state keeps the old installation.
// Launched nodes and Provisioners are never touched. install_complete becomes true when it
// finishes; when it fails otherwise (e.g. a rollout that does not complete), state keeps the
// new settings, which are applied, with install_complete false, so that the next plan shows
// an update that applies and waits again, and private state marks it (updateFailedKey) so that
// Delete does not take it for a failed create.
func (r *controllerResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m, state controllerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := m.Timeouts.Update(ctx, defaultCreateTimeout)
	if resp.Diagnostics.Append(diags...); resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m.ID = m.Namespace
	m.MissingObjects = listValue(nil)
	m.DefaultTags = mapValue(r.c.defaultTags, true)
	moved := m.Namespace.ValueString() != state.ID.ValueString()
	renamed := m.ServiceAccountName.ValueString() != state.ServiceAccountName.ValueString()
	old := r.settings(ctx, state, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	kc, err := r.c.kube()
	if err != nil {
		resp.Diagnostics.AddError("Kubernetes client", err.Error())
		return
	}
	var oldCreated time.Time // creation of the old Deployment: what its leader-election Lease follows
	var undo *moveUndo       // what a failed move must put back
	own := getInstallID(ctx, req.Private, &resp.Diagnostics)
	// Refused before anything changes (a move would stop the other instance's controller).
	if err := checkNotTakenOver(ctx, kc, old.Namespace, own); err != nil {
		addTargetError(path.Root("namespace"), "Cannot read the controller Deployment", err, &resp.Diagnostics)
		resp.State.Raw = req.State.Raw.Copy()
		return
	}
	if moved || renamed {
		// Refuse a target with objects of someone else's before the old installation is
		// touched: it keeps running, and state keeps describing it.
		next := r.settings(ctx, m, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
		if !r.checkMoveTarget(ctx, kc, old, next, installTarget{installID: own, takeOver: m.TakeOverInstallation.ValueBool()}, &resp.Diagnostics) {
			resp.State.Raw = req.State.Raw.Copy()
			return
		}
		if undo, err = prepareMove(ctx, kc, old, next); err != nil {
			resp.Diagnostics.AddError("Cannot read the target of the move", err.Error()+
				"; the installation in namespace "+old.Namespace+" with service account "+old.ServiceAccountName+" was left as it was")
			resp.State.Raw = req.State.Raw.Copy()
			return
		}
	}
	id := own
	if id == "" { // state from before install ids, or imported from a Deployment without one
		id = newInstallID()
		resp.Diagnostics.Append(setInstallID(ctx, resp.Private, id)...)
	}
	if undo != nil {
		undo.installID = id
	}
	if moved {
		if oldCreated, err = deploymentCreated(ctx, kc, old.Namespace); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("namespace"), "Cannot read the controller in namespace "+old.Namespace, err.Error())
			resp.State.Raw = req.State.Raw.Copy()
			return
		}
		// Scaled to zero, not deleted: so that two controllers never run at once, and so that a
		// move that fails can scale it back (undoMove).
		if err := scaleDownDeployment(ctx, kc, old.Namespace); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("namespace"), "Cannot stop the controller in namespace "+old.Namespace, err.Error())
			r.undoMove(ctx, kc, state, undo, &resp.Diagnostics)
			resp.State.Raw = req.State.Raw.Copy()
			return
		}
	}
	// Foreign objects are refused on every update too: an object of ours deleted out of band and
	// re-created by someone else (a Secret of the certificate's name) is never taken over.
	r.install(ctx, &m, true, id, &resp.Diagnostics)
	if undo != nil && resp.Diagnostics.HasError() {
		// The old installation runs again and state keeps describing it: the next plan shows
		// the move again, and an apply once the cause is gone completes it.
		r.undoMove(ctx, kc, state, undo, &resp.Diagnostics)
		resp.State.Raw = req.State.Raw.Copy()
		return
	}
	// A failed update (a rollout that did not complete) is not complete: install_complete false
	// makes the next plan an update that applies and waits again, instead of an empty plan over
	// a stuck rollout. Private state records that it was an update's, unless the installation
	// was already a failed create's: only a failed create marks one whose destroy must not
	// remove nodes (Delete).
	m.InstallComplete = types.BoolValue(!resp.Diagnostics.HasError())
	switch {
	case !resp.Diagnostics.HasError():
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, updateFailedKey, nil)...)
	case state.InstallComplete.IsNull() || state.InstallComplete.ValueBool():
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, updateFailedKey, []byte("true"))...)
	}
	if m.NamespaceCreated.IsUnknown() {
		m.NamespaceCreated = state.NamespaceCreated
	}
	if !m.ClusterEndpoint.IsUnknown() {
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if moved || renamed {
		kept, err := removeOldObjects(ctx, kc, old, r.settings(ctx, m, &resp.Diagnostics), state.NamespaceCreated.ValueBool(), oldCreated)
		switch {
		case err != nil:
			resp.Diagnostics.AddError("Cannot remove the objects of the previous installation", err.Error())
		case len(kept) > 0:
			resp.Diagnostics.AddWarning("Namespace "+old.Namespace+" kept", namespaceKeptDetail(old.Namespace, kept))
		}
	}
	r.endHandover(ctx, m, &resp.Diagnostics)
}

// undoMoveTimeout bounds undoMove, which runs on its own deadline: the move's may have passed
// (a Deployment that never became Available).
const undoMoveTimeout = 5 * time.Minute

// undoMove puts back installation state (the prior state of a move to u.next that failed):
// it deletes the target's controller Deployment when the move created it (so that two
// controllers never run at once), re-applies state's installation, which scales its Deployment
// back to its replicas and restores a service account switched by a rename, and waits until
// it is Available (install), then deletes what the failed move created (u.remove). The
// outcome is a warning, or an error when the old installation could not be restored; diags
// keep the move's own error.
func (r *controllerResource) undoMove(ctx context.Context, kc client.Client, state controllerModel, u *moveUndo, diags *diag.Diagnostics) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoMoveTimeout)
	defer cancel()
	where := "namespace " + u.old.Namespace + " with service account " + u.old.ServiceAccountName
	var undoDiags diag.Diagnostics
	created, err := u.stopTarget(ctx, kc)
	if err == nil {
		r.install(ctx, &state, false, u.installID, &undoDiags)
		if !undoDiags.HasError() {
			err = u.remove(ctx, kc, created)
		}
	}
	for _, d := range undoDiags.Errors() {
		diags.AddError("Cannot restore the previous installation", fmt.Sprintf("the move failed, and re-applying the installation in %s "+
			"failed too: %s: %s; Terraform state still describes it: fix the cause and apply again", where, d.Summary(), d.Detail()))
	}
	if err != nil {
		diags.AddError("Cannot restore the previous installation", fmt.Sprintf("the move failed, and undoing it failed too: %v; "+
			"Terraform state still describes the installation in %s: fix the cause and apply again", err, where))
	}
	if !undoDiags.HasError() && err == nil {
		diags.AddWarning("Installation left where it was", fmt.Sprintf("The move to namespace %s with service account %s failed (see the "+
			"error); the installation in %s runs again as before, what the move had created was removed, and Terraform state "+
			"still describes it. Fix the cause and apply again to move it.", u.next.Namespace, u.next.ServiceAccountName, where))
	}
}

// Delete removes the installation's own objects and, when it created it, the namespace;
// nothing, with a warning naming the install id and the Provisioners left, when another
// instance (a create_before_destroy replacement, or one of another Terraform state) has
// re-applied the installation since (see supersededBy). Only for the last controller in the
// cluster (see otherControllers: another Karpenter controller Deployment, even one scaled to
// zero, keeps them, with a warning naming it) whose create did not fail, and when no Provisioner is left (see remainingProvisioners: one is
// left during a replacement, never during a destroy that removed the karpenter_provisioner
// resources first), does it remove the launched nodes (waiting for the controller's finalizer
// to terminate their instances), then the NodeClaims, the remaining instances, the launch
// templates and the CRD. Terraform tells a provider nothing about a Delete being half of a
// replacement, so the Provisioners still in the cluster are what marks it.
func (r *controllerResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m controllerModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := m.Timeouts.Delete(ctx, defaultDeleteTimeout)
	if resp.Diagnostics.Append(diags...); resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	kc, err := r.c.kube()
	if err != nil {
		resp.Diagnostics.AddError("Kubernetes client", err.Error())
		return
	}
	s := r.settings(ctx, m, &resp.Diagnostics)
	own := getInstallID(ctx, req.Private, &resp.Diagnostics)
	if by, err := supersededBy(ctx, kc, s.Namespace, own); err != nil {
		resp.Diagnostics.AddError("Cannot read the controller Deployment", err.Error())
		return
	} else if by != "" {
		// Another instance (a create_before_destroy replacement, or one of another state) has
		// re-applied the installation in this namespace (its install id is by): everything here
		// is now that instance's. The Provisioners are only named.
		provs, _ := remainingProvisioners(ctx, kc)
		resp.Diagnostics.AddWarning(supersededWarning(s.Namespace, own, by, provs))
		return
	}
	others, err := otherControllers(ctx, kc, s.Namespace)
	if err != nil {
		resp.Diagnostics.AddError("Cannot list the controllers in the cluster", err.Error())
		return
	}
	provs, err := remainingProvisioners(ctx, kc)
	if err != nil {
		resp.Diagnostics.AddError("Cannot list the Provisioners", err.Error())
		return
	}
	// A failed create; not an update that failed (updateFailedKey): that installation was
	// complete once. Null: state from before the attribute.
	failed := !m.InstallComplete.IsNull() && !m.InstallComplete.ValueBool() && !updateFailed(ctx, req.Private, &resp.Diagnostics)
	last := len(others) == 0 && !failed && len(provs) == 0
	if len(others) > 0 && !failed {
		resp.Diagnostics.AddWarning(sharedLeftWarning(others))
	}
	if len(others) == 0 && !failed && len(provs) > 0 {
		resp.Diagnostics.AddWarning("Launched nodes left in place",
			fmt.Sprintf("Provisioners remain (%s), so this is a replacement of the controller or its destroy ahead of "+
				"the Provisioners: their launched nodes, NodeClaims, launch templates and the CRD are left for the next "+
				"controller. To remove them, delete the Provisioners first (karpenter_provisioner resources that "+
				"depend on the controller are destroyed before it).", strings.Join(provs, ", ")))
	}
	if last {
		if err := waitProvisionersGone(ctx, kc); err != nil {
			resp.Diagnostics.AddError("Provisioners being deleted are not gone", err.Error())
			return
		}
		if err := deleteLaunchedNodes(ctx, kc); err != nil {
			resp.Diagnostics.AddError("Cannot remove the nodes the controller launched", err.Error())
			return
		}
	}
	created, err := deploymentCreated(ctx, kc, s.Namespace)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the controller Deployment", err.Error())
		return
	}
	if err := deleteOwned(ctx, kc, controllerObjects(s)); err != nil {
		resp.Diagnostics.AddError("Cannot delete the controller's objects", err.Error())
		return
	}
	if err := deleteLeaderLease(ctx, kc, s.Namespace, created); err != nil {
		resp.Diagnostics.AddError("Cannot delete the controller's leader-election Lease", err.Error())
		return
	}
	if last {
		r.deleteShared(ctx, kc, m.ClusterName.ValueString(), &resp.Diagnostics)
	}
	if m.NamespaceCreated.ValueBool() {
		kept, err := deleteCreatedNamespace(ctx, kc, s.Namespace)
		switch {
		case err != nil:
			resp.Diagnostics.AddError("Namespace "+s.Namespace+" was not removed", err.Error())
		case len(kept) > 0:
			resp.Diagnostics.AddWarning("Namespace "+s.Namespace+" kept", namespaceKeptDetail(s.Namespace, kept))
		}
	}
}

// namespaceKeptDetail is the warning's detail when namespace, which this resource created, is
// kept because it holds kept, objects this provider did not create.
func namespaceKeptDetail(namespace string, kept []string) string {
	return fmt.Sprintf("This resource created namespace %s, but it now holds objects this provider did not create (%s): "+
		"deleting the namespace would delete them. Delete it yourself once they are no longer needed.", namespace, strings.Join(kept, ", "))
}

// deleteShared removes what only the last controller may: the launch templates the
// controllers made for the cluster (nothing creates them any more) and the Provisioner CRD.
func (r *controllerResource) deleteShared(ctx context.Context, kc client.Client, clusterName string, diags *diag.Diagnostics) {
	// Launches whose node never registered have a NodeClaim and an instance but no Node for
	// deleteLaunchedNodes to remove: delete the claims and terminate what they launched, so
	// that nothing is left behind once the controller is gone.
	if err := kc.DeleteAllOf(ctx, &karpv1.NodeClaim{}); err != nil && !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
		diags.AddError("Cannot delete the NodeClaims", err.Error())
		return
	}
	if err := terminateLaunchedInstances(ctx, r.c.ec2, clusterName); err != nil {
		diags.AddError("Cannot terminate the instances the controller launched", err.Error())
		return
	}
	if err := deleteLaunchTemplates(ctx, r.c.ec2, clusterName); err != nil {
		diags.AddError("Cannot delete the controller's launch templates", err.Error())
		return
	}
	all, err := controllerCRDs()
	if err == nil {
		for _, crd := range all {
			if err := kc.Delete(ctx, crd); err != nil && !apierrors.IsNotFound(err) {
				diags.AddError("Cannot delete the CRD "+crd.Name, err.Error())
				return
			}
		}
	}
}

// ImportState imports by namespace.
func (r *controllerResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}

// install applies the CRD, ensures the namespace (setting m.NamespaceCreated) and applies
// every object (server-side apply), then waits for the Deployment. With checkForeign it first
// refuses objects of the same names that this provider did not apply.
func (r *controllerResource) install(ctx context.Context, m *controllerModel, checkForeign bool, installID string, diags *diag.Diagnostics) {
	if m.ClusterEndpoint.IsUnknown() || m.ClusterEndpoint.ValueString() == "" {
		out, err := r.c.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(m.ClusterName.ValueString())})
		if err != nil {
			diags.AddAttributeError(path.Root("cluster_endpoint"), "Cannot look up the cluster endpoint (set cluster_endpoint)", err.Error())
			return
		}
		m.ClusterEndpoint = types.StringValue(aws.ToString(out.Cluster.Endpoint))
	}
	s := r.settings(ctx, *m, diags)
	if diags.HasError() {
		return
	}
	s.InstallID = installID
	kc, err := r.c.kube()
	if err != nil {
		diags.AddError("Kubernetes client", err.Error())
		return
	}
	created, err := ensureNamespace(ctx, kc, s.Namespace, m.NamespaceCreated.ValueBool())
	if err != nil {
		diags.AddAttributeError(path.Root("namespace"), "Cannot create or adopt namespace "+s.Namespace, err.Error())
		return
	}
	m.NamespaceCreated = types.BoolValue(created)
	objs := controllerObjects(s)
	if checkForeign {
		if err := refuseForeign(ctx, kc, objs); err != nil {
			diags.AddAttributeError(path.Root("namespace"), "Objects of the same names exist and are not managed by this provider", err.Error())
			return
		}
	}
	all, err := desiredCRDs()
	if err != nil {
		diags.AddError("Invalid embedded CRD", err.Error())
		return
	}
	for _, crd := range all {
		desired := crd.DeepCopy() // apply overwrites crd with the live object
		if err := apply(ctx, kc, crd); err != nil {
			diags.AddError("Cannot apply the CRD "+crd.Name, err.Error())
			return
		}
		if err := replaceCRDSpec(ctx, kc, desired); err != nil {
			diags.AddError("Cannot update the CRD "+crd.Name, err.Error())
			return
		}
		if err := waitCRDEstablished(ctx, kc, crd.Name); err != nil {
			diags.AddError("CRD "+crd.Name+" not established", err.Error())
			return
		}
	}
	var saUID string // the service account's, once applied (controllerObjects lists it first)
	for _, obj := range objs {
		if d, ok := obj.(*appsv1.Deployment); ok && saUID != "" {
			d.Spec.Template.Annotations[serviceAccountUIDAnnotation] = saUID
		}
		desired := obj.DeepCopyObject() // apply overwrites obj with the live object
		if err := apply(ctx, kc, obj); err != nil {
			diags.AddError(fmt.Sprintf("Cannot apply %T %s/%s", obj, obj.GetNamespace(), obj.GetName()), err.Error())
			return
		}
		if sa, ok := obj.(*corev1.ServiceAccount); ok && sa.Name == s.ServiceAccountName {
			saUID = string(sa.UID)
		}
		if d, ok := desired.(*appsv1.Deployment); ok {
			if err := replaceDeploymentSpec(ctx, kc, d); err != nil {
				diags.AddError("Cannot update the controller Deployment", err.Error())
				return
			}
		}
	}
	var d appsv1.Deployment
	if err := waitRollout(ctx, kc, client.ObjectKey{Namespace: s.Namespace, Name: deploymentName}, &d); err != nil {
		diags.AddError("Controller Deployment rollout did not complete", err.Error())
	}
}

// podsWaiting describes, for the error of a rollout that did not complete, the controller pods
// in namespace that are not available and why (podWaitReasons: a container waiting, e.g.
// ErrImagePull or ImagePullBackOff with the kubelet's message naming the image; a pod no node
// can take, with the scheduler's message; a pod running but not Ready), or "" when none is or
// the pods cannot be listed. It reads with a context of its own: ctx may be the one that timed
// out.
func podsWaiting(ctx context.Context, kc client.Client, namespace string) string {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var pods corev1.PodList
	if err := kc.List(lctx, &pods, client.InNamespace(namespace), client.MatchingLabels(selectorLabels())); err != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range pods.Items {
		b.WriteString(podWaitReasons(p))
	}
	return b.String()
}

// settings converts the model to controllerSettings; bad quantities are attribute errors.
func (r *controllerResource) settings(ctx context.Context, m controllerModel, diags *diag.Diagnostics) controllerSettings {
	s := controllerSettings{
		Namespace: m.ID.ValueString(), ServiceAccountName: m.ServiceAccountName.ValueString(),
		ClusterName: m.ClusterName.ValueString(), ClusterEndpoint: m.ClusterEndpoint.ValueString(),
		ControllerRoleARN: m.ControllerRoleARN.ValueString(), DefaultInstanceProfile: m.DefaultInstanceProfile.ValueString(),
		Region: r.c.region, Image: m.Image.ValueString(), Replicas: int32(m.Replicas.ValueInt64()), LogLevel: m.LogLevel.ValueString(),
		BatchIdleSeconds: m.BatchIdleDurationSeconds.ValueInt64(), BatchMaxSeconds: m.BatchMaxDurationSeconds.ValueInt64(),
		DefaultTags: r.c.defaultTags,
	}
	if s.Namespace == "" {
		s.Namespace = m.Namespace.ValueString()
	}
	cpu, mem, cpuLimit, memLimit := defaultCPURequest, defaultMemoryRequest, "", defaultMemoryLimit
	if m.Resources != nil {
		cpu, mem = m.Resources.CPURequest.ValueString(), m.Resources.MemoryRequest.ValueString()
		cpuLimit, memLimit = m.Resources.CPULimit.ValueString(), m.Resources.MemoryLimit.ValueString()
	}
	var err error
	if s.CPURequest, err = kresource.ParseQuantity(cpu); err != nil {
		diags.AddAttributeError(path.Root("resources").AtName("cpu_request"), "Invalid quantity", err.Error())
	}
	if s.MemoryRequest, err = kresource.ParseQuantity(mem); err != nil {
		diags.AddAttributeError(path.Root("resources").AtName("memory_request"), "Invalid quantity", err.Error())
	}
	for _, l := range []struct {
		at, v string
		dst   **kresource.Quantity
	}{{"cpu_limit", cpuLimit, &s.CPULimit}, {"memory_limit", memLimit, &s.MemoryLimit}} {
		if l.v == "" {
			continue
		}
		q, err := kresource.ParseQuantity(l.v)
		if err != nil {
			diags.AddAttributeError(path.Root("resources").AtName(l.at), "Invalid quantity", err.Error())
			continue
		}
		*l.dst = &q
	}
	installOptions(ctx, m, &s, diags)
	return s
}

// apply server-side applies obj as fieldOwner, taking ownership of conflicting fields.
func apply(ctx context.Context, kc client.Client, obj client.Object) error {
	gvk, err := apiutil.GVKForObject(obj, kc.Scheme())
	if err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	obj.SetManagedFields(nil)
	obj.SetResourceVersion("")
	return kc.Patch(ctx, obj, client.Apply, client.FieldOwner(fieldOwner), client.ForceOwnership) //nolint:staticcheck // typed objects; apply configurations would duplicate every type
}

// replaceDeploymentSpec makes the live Deployment's spec exactly desired's. Server-side apply
// keeps list entries and map keys that another field manager added (an env var or toleration
// added with kubectl), which would show as drift forever; an update of the whole spec removes
// them. Unchanged specs (after the API server's defaulting) do not start a rollout.
func replaceDeploymentSpec(ctx context.Context, kc client.Client, desired *appsv1.Deployment) error {
	// kube-controller-manager writes the Deployment's status (a new resourceVersion) many times
	// during a rollout, so conflicts can come in a run: retry for up to about 6 s, not 50 ms.
	return retry.RetryOnConflict(wait.Backoff{Steps: 10, Duration: 20 * time.Millisecond, Factor: 2, Jitter: 0.1, Cap: 2 * time.Second}, func() error {
		var live appsv1.Deployment
		if err := kc.Get(ctx, client.ObjectKeyFromObject(desired), &live); err != nil {
			return err
		}
		live.Spec = *desired.Spec.DeepCopy()
		return kc.Update(ctx, &live, client.FieldOwner(fieldOwner))
	})
}

// waitCRDEstablished waits until the CRD has the Established condition.
func waitCRDEstablished(ctx context.Context, kc client.Client, name string) error {
	return wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := kc.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}

// deleteLaunchedNodes deletes every Node labelled karpenter.sh/provisioner-name and waits
// until all are gone (their finalizer terminates the instances).
func deleteLaunchedNodes(ctx context.Context, kc client.Client) error {
	sel := client.HasLabels{v1alpha5.LabelProvisionerName}
	var nodes corev1.NodeList
	if err := kc.List(ctx, &nodes, sel); err != nil {
		return err
	}
	for i := range nodes.Items {
		if err := kc.Delete(ctx, &nodes.Items[i]); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	var left []string
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		var nodes corev1.NodeList
		if err := kc.List(ctx, &nodes, sel); err != nil {
			return false, err
		}
		left = left[:0]
		for _, n := range nodes.Items {
			left = append(left, n.Name)
		}
		return len(left) == 0, nil
	})
	if err != nil {
		why := nodeRemovalBlockers(kc, left)
		if why == "" {
			why = fmt.Sprintf("is the controller running to remove their %s finalizer?", v1alpha5.TerminationFinalizer)
		}
		return fmt.Errorf("%v; nodes still present: %s (%s)", err, strings.Join(left, ", "), why)
	}
	return nil
}

// nodeRemovalBlockers describes why the controller has not removed the named nodes, from the
// latest Warning Event of each (e.g. EvictionBlocked: a PodDisruptionBudget or
// karpenter.sh/do-not-evict holds a pod), with a hint at termination_grace_period; "" when
// there is none. It uses its own short deadline: the caller's has passed.
func nodeRemovalBlockers(kc client.Client, nodes []string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var events corev1.EventList
	if err := kc.List(ctx, &events, client.MatchingFields{"involvedObject.kind": "Node", "type": corev1.EventTypeWarning}); err != nil {
		return ""
	}
	latest := map[string]corev1.Event{}
	for _, e := range events.Items {
		if !slices.Contains(nodes, e.InvolvedObject.Name) {
			continue
		}
		if cur, ok := latest[e.InvolvedObject.Name]; !ok || eventTime(e).After(eventTime(cur)) {
			latest[e.InvolvedObject.Name] = e
		}
	}
	var parts []string
	for _, n := range nodes {
		if e, ok := latest[n]; ok {
			parts = append(parts, fmt.Sprintf("%s: %s: %s", n, e.Reason, e.Message))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ") + "; a Provisioner's termination_grace_period bounds how long a node's pods may hold its removal"
}

// eventTime is when an Event last happened.
func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// waitGone waits until obj no longer exists.
func waitGone(ctx context.Context, kc client.Client, obj client.Object) error {
	return wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		err := kc.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// resourcesValue converts the live requests and limits of the controller container to the
// resources block. prior is the block in state before the refresh: when it is nil (the block
// was omitted) and the live values are the defaults, the block stays nil; live values other
// than the defaults make it non-nil so that the plan shows the drift. Quantities equal to the
// prior spelling keep it ("1000m" stays "1000m").
func resourcesValue(live corev1.ResourceRequirements, prior *resourcesModel) *resourcesModel {
	if prior == nil {
		cpu, mem := live.Requests[corev1.ResourceCPU], live.Requests[corev1.ResourceMemory]
		_, cpuLimited := live.Limits[corev1.ResourceCPU]
		memLimit, memLimited := live.Limits[corev1.ResourceMemory]
		if cpu.Cmp(kresource.MustParse(defaultCPURequest)) == 0 && mem.Cmp(kresource.MustParse(defaultMemoryRequest)) == 0 &&
			!cpuLimited && memLimited && memLimit.Cmp(kresource.MustParse(defaultMemoryLimit)) == 0 {
			return nil
		}
		prior = &resourcesModel{CPURequest: types.StringValue(defaultCPURequest), MemoryRequest: types.StringValue(defaultMemoryRequest),
			CPULimit: types.StringNull(), MemoryLimit: types.StringValue(defaultMemoryLimit)}
	}
	return &resourcesModel{
		CPURequest:    quantityValue(live.Requests, corev1.ResourceCPU, prior.CPURequest),
		MemoryRequest: quantityValue(live.Requests, corev1.ResourceMemory, prior.MemoryRequest),
		CPULimit:      quantityValue(live.Limits, corev1.ResourceCPU, prior.CPULimit),
		MemoryLimit:   quantityValue(live.Limits, corev1.ResourceMemory, prior.MemoryLimit),
	}
}

// missingObjects lists ("<Kind> <namespace/name>", in creation order) the CRDs and
// the objects of the installation other than the Deployment (whose absence
// removes the resource from state) that no longer exist, and ("<Kind> <namespace/name>
// (changed: <what>, ...)") those whose content differs (objectChanges). Errors other than NotFound are
// returned.
func (r *controllerResource) missingObjects(ctx context.Context, kc client.Client, s controllerSettings) ([]string, error) {
	all, err := controllerCRDs()
	if err != nil {
		return nil, err
	}
	objs := []client.Object{}
	for _, crd := range all {
		objs = append(objs, crd)
	}
	for _, obj := range controllerObjects(s) {
		if _, ok := obj.(*appsv1.Deployment); ok {
			continue
		}
		objs = append(objs, obj)
	}
	missing := []string{}
	for _, obj := range objs {
		gvk, err := apiutil.GVKForObject(obj, kc.Scheme())
		if err != nil {
			return nil, err
		}
		name := obj.GetName()
		if obj.GetNamespace() != "" {
			name = obj.GetNamespace() + "/" + name
		}
		live := obj.DeepCopyObject().(client.Object)
		err = kc.Get(ctx, client.ObjectKeyFromObject(obj), live)
		if apierrors.IsNotFound(err) {
			missing = append(missing, gvk.Kind+" "+name)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s %s: %w", gvk.Kind, name, err)
		}
		if changes := objectChanges(obj, live); len(changes) > 0 {
			missing = append(missing, gvk.Kind+" "+name+" (changed: "+strings.Join(changes, ", ")+")")
		}
	}
	return missing, nil
}

// driftedObjects is missing_objects: missingObjects, then the Deployment d (ctr its controller
// container) as "Deployment <namespace>/<name> (changed: <what>, ...)" when deploymentChanges
// lists anything (its credentials annotation compared with appliedRole's, the controller role
// ARN this resource applied, "" for none; its resources with the defaults when
// defaultResources, i.e. the resources block is omitted), then the namespace when nsCreated
// (this resource created it) and it lost a label or annotation (namespaceChanged). Errors:
// reading an object failed.
func (r *controllerResource) driftedObjects(ctx context.Context, kc client.Client, cur controllerSettings, nsCreated bool,
	d *appsv1.Deployment, ctr corev1.Container, appliedRole string, defaultResources bool) ([]string, error) {
	missing, err := r.missingObjects(ctx, kc, cur)
	if err != nil {
		return nil, err
	}
	applied := cur
	applied.ControllerRoleARN = appliedRole
	if defaultResources {
		applied = withDefaultResources(applied)
	}
	if changes := deploymentChanges(applied, d, ctr, defaultResources); len(changes) > 0 {
		missing = append(missing, "Deployment "+d.Namespace+"/"+d.Name+" (changed: "+strings.Join(changes, ", ")+")")
	}
	if nsCreated {
		var nsObj corev1.Namespace
		if err := kc.Get(ctx, client.ObjectKey{Name: d.Namespace}, &nsObj); err != nil {
			return nil, fmt.Errorf("reading namespace %s: %w", d.Namespace, err)
		}
		if namespaceChanged(&nsObj) {
			missing = append(missing, "Namespace "+d.Namespace+" (changed: labels)")
		}
	}
	return missing, nil
}

// objectChanges lists what of live, the object in the cluster, differs from desired in the
// content this provider sets that no attribute reads back, each as a short fixed name: "labels"
// (a label or annotation of desired missing or changed, metadataChanged; the service account's
// role annotation is controller_role_arn), "rules" of a ClusterRole or Role, "subjects" and
// "roleRef" of a binding, "selector" of the PodDisruptionBudget (its maxUnavailable is
// pdb_max_unavailable), "type", "selector" and "ports" of the webhook Service, and of the webhook
// configuration "webhooks" (another number of them) or "webhooks[i].<field>" per webhook field
// (name, clientConfig without its caBundle, which the controller writes, rules, failurePolicy,
// matchPolicy, namespaceSelector, objectSelector, sideEffects, timeoutSeconds,
// admissionReviewVersions, matchConditions). Other kinds: only labels. Empty: nothing changed.
func objectChanges(desired, live client.Object) []string {
	var changes []string
	note := func(changed bool, what string) {
		if changed {
			changes = append(changes, what)
		}
	}
	if _, crd := desired.(*apiextensionsv1.CustomResourceDefinition); !crd { // crd_digests covers the CRDs
		note(metadataChanged(desired, live, roleARNAnnotation), "labels") // controller_role_arn reads the role annotation
	}
	eq := equality.Semantic.DeepEqual
	switch d := desired.(type) {
	case *rbacv1.ClusterRole:
		note(!eq(d.Rules, live.(*rbacv1.ClusterRole).Rules), "rules")
	case *rbacv1.Role:
		note(!eq(d.Rules, live.(*rbacv1.Role).Rules), "rules")
	case *rbacv1.ClusterRoleBinding:
		l := live.(*rbacv1.ClusterRoleBinding)
		note(!eq(d.Subjects, l.Subjects), "subjects")
		note(d.RoleRef != l.RoleRef, "roleRef")
	case *rbacv1.RoleBinding:
		l := live.(*rbacv1.RoleBinding)
		note(!eq(d.Subjects, l.Subjects), "subjects")
		note(d.RoleRef != l.RoleRef, "roleRef")
	case *policyv1.PodDisruptionBudget:
		note(!eq(d.Spec.Selector, live.(*policyv1.PodDisruptionBudget).Spec.Selector), "selector")
	case *corev1.Service:
		l := live.(*corev1.Service)
		note(d.Spec.Type != l.Spec.Type, "type")
		note(!eq(d.Spec.Selector, l.Spec.Selector), "selector")
		note(!eq(d.Spec.Ports, l.Spec.Ports), "ports")
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		changes = append(changes, webhookChanges(d.Webhooks, live.(*admissionregistrationv1.ValidatingWebhookConfiguration).Webhooks)...)
	}
	return changes
}

// webhookChanges is objectChanges for a ValidatingWebhookConfiguration's webhooks: "webhooks"
// when live has another number of them, else "webhooks[i].<field>" per field that differs, the
// caBundle (the controller's) left out.
func webhookChanges(desired, live []admissionregistrationv1.ValidatingWebhook) []string {
	if len(desired) != len(live) {
		return []string{"webhooks"}
	}
	var changes []string
	for i := range desired {
		d, l := desired[i], live[i]
		l.ClientConfig.CABundle = nil
		eq := equality.Semantic.DeepEqual
		for _, f := range []struct {
			name    string
			changed bool
		}{
			{"name", d.Name != l.Name},
			{"clientConfig", !eq(d.ClientConfig, l.ClientConfig)},
			{"rules", !eq(d.Rules, l.Rules)},
			{"failurePolicy", !eq(d.FailurePolicy, l.FailurePolicy)},
			{"matchPolicy", !eq(d.MatchPolicy, l.MatchPolicy)},
			{"namespaceSelector", !eq(d.NamespaceSelector, l.NamespaceSelector)},
			{"objectSelector", !eq(d.ObjectSelector, l.ObjectSelector)},
			{"sideEffects", !eq(d.SideEffects, l.SideEffects)},
			{"timeoutSeconds", !eq(d.TimeoutSeconds, l.TimeoutSeconds)},
			{"admissionReviewVersions", !eq(d.AdmissionReviewVersions, l.AdmissionReviewVersions)},
			{"matchConditions", !eq(d.MatchConditions, l.MatchConditions)},
		} {
			if f.changed {
				changes = append(changes, fmt.Sprintf("webhooks[%d].%s", i, f.name))
			}
		}
		if len(changes) == 0 && !eq(d, l) {
			changes = append(changes, fmt.Sprintf("webhooks[%d]", i)) // a field not named above
		}
	}
	return changes
}

// deploymentChanges lists what of the live controller Deployment d (ctr its controller
// container) differs from the one s describes in what no attribute reads back, each as a short
// fixed name in this order: "labels" (a label of the Deployment missing or changed), "install
// id" (no installIDAnnotation), "taken over by install id <id>" (it names another instance than
// s.InstallID, this one's, unless that is ""; see checkNotTakenOver), "strategy" (type and
// maxUnavailable; the API server defaults maxSurge), "credentials annotation" (the pod
// template's credentialsAnnotation, when it has one), "serviceAccountName"
// (service_account_name stays the one this resource applied), "pod labels", "pod
// securityContext", "securityContext" (the container's), "livenessProbe", "readinessProbe",
// "ports", "env <NAME>" for the environment variables the provider sets from its own
// configuration (AWS_REGION, WEBHOOK_SERVICE, WEBHOOK_CONFIGURATION; POD_NAMESPACE by field
// path, whose apiVersion the API server defaults) and a DEFAULT_TAGS that defaultTagsValue
// cannot read (a readable one is compared through default_tags), and "resources" (only when
// defaultResources: the resources block is omitted, and s holds the defaults it stands for).
// Empty: nothing changed. Source of the desired values: controllerObjects.
func deploymentChanges(s controllerSettings, d *appsv1.Deployment, ctr corev1.Container, defaultResources bool) []string {
	var want *appsv1.Deployment
	for _, o := range controllerObjects(s) {
		if w, ok := o.(*appsv1.Deployment); ok {
			want = w
		}
	}
	var changes []string
	note := func(changed bool, what string) {
		if changed {
			changes = append(changes, what)
		}
	}
	note(metadataChanged(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Labels: want.Labels}}, d, ""), "labels")
	live := d.Annotations[installIDAnnotation]
	note(live == "", "install id")
	note(live != "" && s.InstallID != "" && live != s.InstallID, "taken over by install id "+live)
	ws, ls := want.Spec.Strategy, d.Spec.Strategy
	note(ws.Type != ls.Type || (ls.RollingUpdate == nil) != (ws.RollingUpdate == nil) ||
		(ls.RollingUpdate != nil && !equality.Semantic.DeepEqual(ws.RollingUpdate.MaxUnavailable, ls.RollingUpdate.MaxUnavailable)), "strategy")
	spec, wantSpec := d.Spec.Template.Spec, want.Spec.Template.Spec
	wc := wantSpec.Containers[0]
	// credentialsAnnotation: compared when present (a Deployment of an earlier version has none).
	v, ok := d.Spec.Template.Annotations[credentialsAnnotation]
	note(ok && v != want.Spec.Template.Annotations[credentialsAnnotation], "credentials annotation")
	note(spec.ServiceAccountName != wantSpec.ServiceAccountName, "serviceAccountName")
	note(!equality.Semantic.DeepEqual(want.Spec.Template.Labels, d.Spec.Template.Labels), "pod labels")
	note(!equality.Semantic.DeepEqual(wantSpec.SecurityContext, spec.SecurityContext), "pod securityContext")
	note(!equality.Semantic.DeepEqual(wc.SecurityContext, ctr.SecurityContext), "securityContext")
	note(!equality.Semantic.DeepEqual(wc.LivenessProbe, ctr.LivenessProbe), "livenessProbe")
	note(!equality.Semantic.DeepEqual(wc.ReadinessProbe, ctr.ReadinessProbe), "readinessProbe")
	note(!equality.Semantic.DeepEqual(wc.Ports, ctr.Ports), "ports")
	envOf := func(c corev1.Container, name string) (string, bool) {
		for _, e := range c.Env {
			if e.Name == name {
				if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
					return "fieldRef " + e.ValueFrom.FieldRef.FieldPath, true
				}
				return e.Value, e.ValueFrom == nil
			}
		}
		return "", false
	}
	for _, name := range []string{envRegion, envPodNamespace, envWebhookService, envWebhookConfiguration} {
		wv, wok := envOf(wc, name)
		lv, lok := envOf(ctr, name)
		note(wv != lv || wok != lok, "env "+name)
	}
	_, readable := defaultTagsValue(ctr) // parsed tags show in default_tags
	note(!readable, "env "+envDefaultTags)
	note(defaultResources && !equality.Semantic.DeepEqual(wc.Resources, ctr.Resources), "resources")
	return changes
}

// withDefaultResources returns s with the resources Create and Update apply when the resources
// block is omitted: defaultCPURequest and defaultMemoryRequest requested, a defaultMemoryLimit
// memory limit, no CPU limit.
func withDefaultResources(s controllerSettings) controllerSettings {
	s.CPURequest, s.MemoryRequest = kresource.MustParse(defaultCPURequest), kresource.MustParse(defaultMemoryRequest)
	limit := kresource.MustParse(defaultMemoryLimit)
	s.CPULimit, s.MemoryLimit = nil, &limit
	return s
}

// defaultTagsValue reads DEFAULT_TAGS of the controller container c (a JSON object of strings,
// as controllerObjects writes it) as the default_tags attribute: null when the variable is
// absent. ok is false when it is not a plain value holding a JSON object of strings (set
// outside Terraform); the value is then null.
func defaultTagsValue(c corev1.Container) (v types.Map, ok bool) {
	for _, e := range c.Env {
		if e.Name != envDefaultTags {
			continue
		}
		var tags map[string]string
		if e.ValueFrom != nil || json.Unmarshal([]byte(e.Value), &tags) != nil || tags == nil {
			return types.MapNull(types.StringType), false
		}
		return mapValue(tags, false), true
	}
	return types.MapNull(types.StringType), true
}

// missingObjectsDescription is the MarkdownDescription of karpenter_controller's missing_objects
// (driftedObjects).
var missingObjectsDescription = "Objects of the installation (`<Kind> <namespace/name>`: the Provisioner CRD, service account, " +
	"ClusterRole, ClusterRoleBinding, Role, RoleBinding, PodDisruptionBudget, the webhook's certificate Secret, Service " +
	"and ValidatingWebhookConfiguration) that the last refresh found deleted outside Terraform, and " +
	"(suffixed ` (changed: <what>, ...)`) objects, including the namespace when `namespace_created`, that lost a label or " +
	"annotation this provider sets (`app.kubernetes.io/*`, `" + createdByAnnotation + "`, `" + installIDAnnotation +
	"`) or whose rules, subjects, role, selector, Service ports and type, webhooks (not their `caBundle`), rollout strategy, pod service account, pod labels, probes, " +
	"security context, ports, provider-set environment (`AWS_REGION`, `POD_NAMESPACE`, `WEBHOOK_SERVICE`, `WEBHOOK_CONFIGURATION`, a `DEFAULT_TAGS` that is not " +
	"a JSON object of strings) or, with the `resources` block omitted, resources other than its defaults were " +
	"changed outside Terraform; planned as `[]` (but for an installation taken over, see below), so a non-empty value " +
	"plans an update that re-applies them. " +
	"The Deployment's entry names what changed, always in this order: `Deployment <namespace>/<name> (changed: " +
	"<what>, ...)` with `labels`, `install id` (the annotation removed), `taken over by install id <id>` (it names " +
	"another resource instance's id: that instance took the installation over, see `take_over_installation`; it is then " +
	"the only entry, nothing is planned for it, and the plan and apply of a change refuse instead of re-applying), `strategy`, `credentials annotation`, `serviceAccountName`, " +
	"`pod labels`, `pod securityContext`, `securityContext`, `livenessProbe`, `readinessProbe`, `ports`, " +
	"`env AWS_REGION`, `env POD_NAMESPACE`, `env DEFAULT_TAGS`, `resources`, e.g. " +
	"`Deployment karpenter/karpenter (changed: env AWS_REGION, resources)`. The other objects' entries name, in this order, `labels` " +
	"(a label or annotation), `rules`, `subjects`, `roleRef`, `type`, `selector`, `ports`, and for the webhook configuration " +
	"`webhooks[<i>].<field>` (e.g. `failurePolicy`, `rules`, `clientConfig`), e.g. " +
	"`ValidatingWebhookConfiguration karpenter-karpenter (changed: webhooks[0].failurePolicy)`."

// nothingMissing plans missing_objects as [] (every object present after apply), so that
// objects a refresh found deleted plan an update that re-applies them.
type nothingMissing struct{}

func (nothingMissing) Description(context.Context) string {
	return "Plans [] so that objects deleted outside Terraform are re-applied."
}

func (m nothingMissing) MarkdownDescription(ctx context.Context) string { return m.Description(ctx) }

func (nothingMissing) PlanModifyList(_ context.Context, req planmodifier.ListRequest, resp *planmodifier.ListResponse) {
	if req.Plan.Raw.IsNull() { // destroy
		return
	}
	resp.PlanValue = listValue(nil)
}

// secondsValue parses "<n>s" (as written by controllerObjects) or a Go duration into seconds;
// unparsable values become null so that the plan shows the difference.
func secondsValue(s string) types.Int64 {
	if n, err := strconv.ParseInt(strings.TrimSuffix(s, "s"), 10, 64); err == nil {
		return types.Int64Value(n)
	}
	if d, err := time.ParseDuration(s); err == nil {
		return types.Int64Value(int64(d / time.Second))
	}
	return types.Int64Null()
}

// deleteLaunchTemplates deletes every launch template tagged karpenter.sh/cluster=<clusterName>
// (the controller names them karpenter.k8s.aws/<hash>). A template already gone is not an error.
// terminateLaunchedInstances terminates the instances the cluster's controllers launched
// (tagged karpenter.sh/cluster = clusterName and karpenter.sh/managed-by = karpenter) that are
// not yet terminated, and waits until EC2 reports each shutting down or terminated. Errors:
// EC2's, or instances still running when ctx ends.
func terminateLaunchedInstances(ctx context.Context, api *ec2.Client, clusterName string) error {
	filters := []ec2types.Filter{
		{Name: aws.String("tag:" + v1alpha5.TagCluster), Values: []string{clusterName}},
		{Name: aws.String("tag:" + v1alpha5.TagManagedBy), Values: []string{"karpenter"}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
	}
	var left []string
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		left = left[:0]
		p := ec2.NewDescribeInstancesPaginator(api, &ec2.DescribeInstancesInput{Filters: filters})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return false, fmt.Errorf("listing the cluster's launched instances: %w", err)
			}
			for _, res := range page.Reservations {
				for _, inst := range res.Instances {
					left = append(left, aws.ToString(inst.InstanceId))
				}
			}
		}
		if len(left) == 0 {
			return true, nil
		}
		if _, err := api.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: left}); err != nil {
			return false, fmt.Errorf("terminating %s: %w", strings.Join(left, ", "), err)
		}
		return false, nil
	})
	if err != nil && len(left) > 0 {
		return fmt.Errorf("%w; instances still running: %s", err, strings.Join(left, ", "))
	}
	return err
}

func deleteLaunchTemplates(ctx context.Context, api *ec2.Client, clusterName string) error {
	p := ec2.NewDescribeLaunchTemplatesPaginator(api, &ec2.DescribeLaunchTemplatesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + v1alpha5.TagCluster), Values: []string{clusterName}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing launch templates of cluster %s: %w", clusterName, err)
		}
		for _, lt := range page.LaunchTemplates {
			_, err := api.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplateId})
			var apiErr smithy.APIError
			if err != nil && (!errors.As(err, &apiErr) || !strings.HasPrefix(apiErr.ErrorCode(), "InvalidLaunchTemplate")) {
				return fmt.Errorf("deleting launch template %s: %w", aws.ToString(lt.LaunchTemplateName), err)
			}
		}
	}
	return nil
}
