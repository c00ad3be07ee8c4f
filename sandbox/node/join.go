package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// RoleResolver maps an instance profile (name or ARN) to the name and ARN of its role. The AWS
// emulator implements it.
type RoleResolver interface {
	InstanceProfileRole(nameOrArn string) (roleName, roleArn string, ok bool)
}

// TrustChecker is implemented by a RoleResolver that can also say whether an instance holding
// a role gets the role's credentials (the AWS emulator: its trust policy must let the
// partition's EC2 service principal assume it). CheckInstanceTrust returns nil if it does,
// else an error saying why not. A RoleResolver without it is trusted.
type TrustChecker interface {
	CheckInstanceTrust(roleArn string) error
}

// AccessResolver answers what EKS knows of a cluster's access: its authentication mode
// (CONFIG_MAP, API_AND_CONFIG_MAP or API) and the type of a principal's access entry. The AWS
// emulator implements it.
type AccessResolver interface {
	AuthenticationMode() string
	AccessEntryType(principalArn string) (string, bool)
}

// AWSAuthNamespace and AWSAuthName locate the aws-auth ConfigMap that maps IAM roles to
// Kubernetes identities on EKS.
const (
	AWSAuthNamespace = "kube-system"
	AWSAuthName      = "aws-auth"
)

// RoleMapping is one entry of the aws-auth ConfigMap's mapRoles (YAML list).
type RoleMapping struct {
	RoleARN  string   `json:"rolearn"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// Joiner registers booting instances as Nodes of one cluster.
type Joiner struct {
	ClusterName string
	Endpoint    string // API server URL the user data must name
	CACertPEM   []byte // cluster CA the user data must carry
	Region      string
	Admin       *rest.Config // administrator credentials (aws-auth lookups, Node deletion)
	Roles       RoleResolver // nil: no instance may join (no role can be checked)
	// Access gives the cluster's authentication mode and access entries; nil means
	// CONFIG_MAP (aws-auth only).
	Access AccessResolver
	Log    *slog.Logger
}

// Join is Hooks.OnBoot: it parses inst's user data, checks cluster name, endpoint and CA
// against the sandbox, that the instance profile's role gets credentials (TrustChecker, when
// Roles implements it) and may join as a node in the cluster's authentication mode
// (checkNodeAccess), then creates the Node as user
// system:node:<private DNS name> (groups system:nodes, system:authenticated) so that the Node
// authorizer and NodeRestriction admission judge it. Any failure is returned (and logged) and
// the instance never joins; an existing Node of the same name is left as it is.
func (j *Joiner) Join(ctx context.Context, inst Instance) error {
	err := j.join(ctx, inst)
	if err != nil {
		j.log().Warn("instance did not join the cluster", "instance", inst.InstanceID, "reason", err.Error())
	} else {
		j.log().Info("node registered", "instance", inst.InstanceID, "node", inst.PrivateDNSName, "type", inst.InstanceType, "zone", inst.Zone)
	}
	return err
}

func (j *Joiner) log() *slog.Logger {
	if j.Log != nil {
		return j.Log
	}
	return slog.Default()
}

func (j *Joiner) join(ctx context.Context, inst Instance) error {
	b, err := ParseUserDataFor(inst.AMIFamily, inst.UserData)
	if err != nil {
		return err
	}
	if b.ClusterName != j.ClusterName {
		return fmt.Errorf("user data names cluster %q, this cluster is %q", b.ClusterName, j.ClusterName)
	}
	if strings.TrimRight(b.APIServerEndpoint, "/") != strings.TrimRight(j.Endpoint, "/") {
		return fmt.Errorf("user data --apiserver-endpoint %q is not this cluster's endpoint %q", b.APIServerEndpoint, j.Endpoint)
	}
	if !bytes.Equal(bytes.TrimSpace(b.ClusterCA), bytes.TrimSpace(j.CACertPEM)) {
		return fmt.Errorf("user data --b64-cluster-ca is not this cluster's CA")
	}
	if inst.InstanceProfileArn == "" {
		return fmt.Errorf("instance has no instance profile: it has no IAM identity to authenticate with")
	}
	if j.Roles == nil {
		return fmt.Errorf("no IAM role resolver: cannot check instance profile %s", inst.InstanceProfileArn)
	}
	_, roleArn, ok := j.Roles.InstanceProfileRole(inst.InstanceProfileArn)
	if !ok {
		return fmt.Errorf("instance profile %s does not exist or has no role", inst.InstanceProfileArn)
	}
	if tc, ok := j.Roles.(TrustChecker); ok {
		if err := tc.CheckInstanceTrust(roleArn); err != nil {
			return fmt.Errorf("instance profile %s: %w", inst.InstanceProfileArn, err)
		}
	}
	admin, err := kubernetes.NewForConfig(j.Admin)
	if err != nil {
		return err
	}
	if err := j.checkNodeAccess(ctx, admin, roleArn); err != nil {
		return err
	}
	node, err := BuildNode(inst, b, j.Region)
	if err != nil {
		return err
	}
	asNode := rest.CopyConfig(j.Admin)
	asNode.Impersonate = rest.ImpersonationConfig{
		UserName: "system:node:" + inst.PrivateDNSName,
		Groups:   []string{"system:nodes", "system:authenticated"},
	}
	kubelet, err := kubernetes.NewForConfig(asNode)
	if err != nil {
		return err
	}
	if _, err := kubelet.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{FieldManager: "kubelet"}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return fmt.Errorf("register node %s: %w", node.Name, err)
	}
	return nil
}

// checkNodeAccess returns nil if roleArn may authenticate as a node (Amazon EKS User Guide,
// "Grant IAM users access to Kubernetes with EKS access entries", authentication modes): in
// API mode only through an access entry of type EC2_LINUX, in CONFIG_MAP mode only through
// aws-auth, in API_AND_CONFIG_MAP mode through either (the access entry is looked at first, as
// EKS does).
func (j *Joiner) checkNodeAccess(ctx context.Context, admin kubernetes.Interface, roleArn string) error {
	mode := "CONFIG_MAP"
	if j.Access != nil {
		mode = j.Access.AuthenticationMode()
	}
	if mode == "API" || mode == "API_AND_CONFIG_MAP" {
		typ, ok := j.Access.AccessEntryType(roleArn)
		switch {
		case ok && typ == "EC2_LINUX":
			return nil
		case ok:
			return fmt.Errorf("role %s has an access entry of type %s; Linux nodes need type EC2_LINUX", roleArn, typ)
		case mode == "API":
			return fmt.Errorf("role %s has no access entry and the cluster's authentication mode is API (aws-auth is ignored)", roleArn)
		}
	}
	if err := checkAWSAuth(ctx, admin, roleArn); err != nil {
		if mode == "API_AND_CONFIG_MAP" {
			return fmt.Errorf("role %s has no access entry, and: %w", roleArn, err)
		}
		return err
	}
	return nil
}

// checkAWSAuth returns nil if roleArn is mapped in aws-auth mapRoles with the groups
// system:bootstrappers and system:nodes (as EKS requires for nodes). ARNs are compared as
// given and with the role path removed (aws-auth entries name roles without their path).
func checkAWSAuth(ctx context.Context, admin kubernetes.Interface, roleArn string) error {
	cm, err := admin.CoreV1().ConfigMaps(AWSAuthNamespace).Get(ctx, AWSAuthName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("role %s is not mapped: ConfigMap %s/%s does not exist", roleArn, AWSAuthNamespace, AWSAuthName)
	}
	if err != nil {
		return fmt.Errorf("read aws-auth: %w", err)
	}
	mappings, err := ParseMapRoles(cm)
	if err != nil {
		return err
	}
	want := []string{roleArn, stripRolePath(roleArn)}
	for _, m := range mappings {
		if !slices.Contains(want, m.RoleARN) && !slices.Contains(want, stripRolePath(m.RoleARN)) {
			continue
		}
		if slices.Contains(m.Groups, "system:bootstrappers") && slices.Contains(m.Groups, "system:nodes") {
			return nil
		}
		return fmt.Errorf("role %s is mapped in aws-auth with groups %v, nodes need system:bootstrappers and system:nodes", roleArn, m.Groups)
	}
	return fmt.Errorf("role %s is not mapped in %s/%s mapRoles", roleArn, AWSAuthNamespace, AWSAuthName)
}

// ParseMapRoles parses data.mapRoles of an aws-auth ConfigMap (a YAML list of RoleMapping).
// Error: the YAML does not parse (message says where).
func ParseMapRoles(cm *corev1.ConfigMap) ([]RoleMapping, error) {
	var out []RoleMapping
	if s := cm.Data["mapRoles"]; strings.TrimSpace(s) != "" {
		if err := yaml.Unmarshal([]byte(s), &out); err != nil {
			return nil, fmt.Errorf("%s/%s data.mapRoles: %w", cm.Namespace, cm.Name, err)
		}
	}
	return out, nil
}

// stripRolePath turns arn:aws:iam::123:role/some/path/name into arn:aws:iam::123:role/name.
func stripRolePath(arn string) string {
	prefix, rest, ok := strings.Cut(arn, ":role/")
	if !ok {
		return arn
	}
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		rest = rest[i+1:]
	}
	return prefix + ":role/" + rest
}

// Leave is Hooks.OnTerminate: it deletes the instance's Node, as the node lifecycle controller
// of the AWS cloud provider does for a terminated instance. A missing Node is not an error.
func (j *Joiner) Leave(ctx context.Context, inst Instance) error {
	admin, err := kubernetes.NewForConfig(j.Admin)
	if err != nil {
		return err
	}
	err = admin.CoreV1().Nodes().Delete(ctx, inst.PrivateDNSName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete node %s: %w", inst.PrivateDNSName, err)
	}
	if err == nil {
		j.log().Info("node deleted: instance terminated", "instance", inst.InstanceID, "node", inst.PrivateDNSName)
	}
	return nil
}

// MapRole adds (or replaces) the mapping of roleArn to the node identity
// system:node:{{EC2PrivateDNSName}} with groups system:bootstrappers and system:nodes in the
// aws-auth ConfigMap, creating it if needed. Other entries are kept.
func MapRole(ctx context.Context, admin kubernetes.Interface, roleArn string) error {
	entry := RoleMapping{RoleARN: roleArn, Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:bootstrappers", "system:nodes"}}
	for attempt := 0; ; attempt++ {
		cm, err := admin.CoreV1().ConfigMaps(AWSAuthNamespace).Get(ctx, AWSAuthName, metav1.GetOptions{})
		create := apierrors.IsNotFound(err)
		if err != nil && !create {
			return fmt.Errorf("read aws-auth: %w", err)
		}
		if create {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: AWSAuthNamespace, Name: AWSAuthName}}
		}
		mappings, err := ParseMapRoles(cm)
		if err != nil {
			return err
		}
		mappings = slices.DeleteFunc(mappings, func(m RoleMapping) bool { return m.RoleARN == roleArn })
		mappings = append(mappings, entry)
		data, err := yaml.Marshal(mappings)
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data["mapRoles"] = string(data)
		if create {
			_, err = admin.CoreV1().ConfigMaps(AWSAuthNamespace).Create(ctx, cm, metav1.CreateOptions{})
		} else {
			_, err = admin.CoreV1().ConfigMaps(AWSAuthNamespace).Update(ctx, cm, metav1.UpdateOptions{})
		}
		if (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) && attempt < 5 {
			continue
		}
		if err != nil {
			return fmt.Errorf("write aws-auth: %w", err)
		}
		return nil
	}
}
