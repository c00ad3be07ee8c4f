// Package node turns a booting emulated EC2 instance into a Kubernetes Node, as the EKS AL2 and
// Ubuntu bootstrap script (/etc/eks/bootstrap.sh), Bottlerocket's settings and the kubelet
// would: it reads the instance's user data in its image's AMI family's format
// (ParseUserDataFor), checks that it is meant for this cluster and that the instance's role may
// join (aws-auth or access entries), and registers the Node with the node's own identity.
package node

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	kubeletapis "k8s.io/kubelet/pkg/apis"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// BootstrapScript is the path of the EKS AL2 bootstrap script on EKS-optimized AMIs.
const BootstrapScript = "/etc/eks/bootstrap.sh"

// Bootstrap is what an AL2 instance's user data passes to /etc/eks/bootstrap.sh.
type Bootstrap struct {
	ClusterName       string
	APIServerEndpoint string // --apiserver-endpoint
	ClusterCA         []byte // --b64-cluster-ca, decoded (PEM)
	Labels            map[string]string
	Taints            []corev1.Taint
	// MaxPods is --max-pods from the kubelet extra args (or the bootstrap flag); 0 if unset.
	MaxPods int32
	// PodsPerCore is --pods-per-core from the kubelet extra args; 0 if unset (no cap).
	PodsPerCore int32
	// KubeReserved and SystemReserved are --kube-reserved and --system-reserved (resource to
	// quantity); EvictionHard is --eviction-hard (signal to a quantity or percentage).
	KubeReserved, SystemReserved map[string]resource.Quantity
	EvictionHard                 map[string]string
	// KubeletExtraArgs is the raw --kubelet-extra-args value.
	KubeletExtraArgs string
}

// bootstrapValueFlags are the options of /etc/eks/bootstrap.sh (awslabs/amazon-eks-ami,
// files/bootstrap.sh, AL2) that take a value. --max-pods is accepted too (some launchers pass
// it directly instead of through the kubelet arguments).
var bootstrapValueFlags = map[string]bool{
	"--apiserver-endpoint": true, "--b64-cluster-ca": true, "--kubelet-extra-args": true,
	"--container-runtime": true, "--dns-cluster-ip": true, "--ip-family": true,
	"--service-ipv6-cidr": true, "--use-max-pods": true, "--enable-docker-bridge": true,
	"--aws-api-retry-attempts": true, "--docker-config-json": true,
	"--pause-container-account": true, "--pause-container-version": true,
	"--enable-local-outpost": true, "--cluster-id": true, "--local-disks": true,
	"--max-pods": true, "--mount-bpf-fs": true,
}

// ParseUserData parses instance user data: a shell script, or a MIME multi-part document whose
// text/x-shellscript parts are scripts (the format EKS managed node groups and Karpenter use).
// The scripts are parsed as POSIX shell (quotes, escapes, line continuations and variables set
// earlier in the script are honoured; command substitution is refused) and the first call of
// /etc/eks/bootstrap.sh is read. Errors name the problem: no bootstrap call, unknown or
// valueless option, missing cluster name/endpoint/CA, bad base64, or a bad label or taint in
// --kubelet-extra-args.
func ParseUserData(data []byte) (*Bootstrap, error) {
	scripts, err := shellScripts(data)
	if err != nil {
		return nil, err
	}
	for i, script := range scripts {
		args, err := findBootstrapCall(script, fmt.Sprintf("user-data[%d]", i))
		if err != nil {
			return nil, err
		}
		if args != nil {
			return parseBootstrapArgs(args)
		}
	}
	return nil, fmt.Errorf("user data: no call of %s found", BootstrapScript)
}

// shellScripts returns the shell scripts in user data.
func shellScripts(data []byte) ([][]byte, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte("MIME-Version:")) && !bytes.HasPrefix(trimmed, []byte("Content-Type:")) {
		return [][]byte{data}, nil
	}
	// Line endings are normalised first: documents that mix CRLF and LF (common when user data
	// is assembled from parts) are accepted, as cloud-init accepts them.
	msg, err := mail.ReadMessage(bytes.NewReader(bytes.ReplaceAll(trimmed, []byte("\r\n"), []byte("\n"))))
	if err != nil {
		return nil, fmt.Errorf("user data: MIME headers: %w", err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("user data: Content-Type: %w", err)
	}
	if !strings.HasPrefix(mediaType, "multipart/") {
		body, err := io.ReadAll(msg.Body)
		if err != nil {
			return nil, fmt.Errorf("user data: %w", err)
		}
		return [][]byte{body}, nil
	}
	if params["boundary"] == "" {
		return nil, errors.New("user data: multipart Content-Type without boundary")
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var scripts [][]byte
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("user data: MIME part: %w", err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		body, err := io.ReadAll(part)
		if err != nil {
			return nil, fmt.Errorf("user data: MIME part: %w", err)
		}
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "base64") {
			if body, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(body)), "")); err != nil {
				return nil, fmt.Errorf("user data: MIME part base64: %w", err)
			}
		}
		if ct == "text/x-shellscript" {
			scripts = append(scripts, body)
		}
	}
	if len(scripts) == 0 {
		return nil, errors.New("user data: no text/x-shellscript part")
	}
	return scripts, nil
}

// findBootstrapCall returns the expanded arguments (without the script path) of the first
// bootstrap.sh call in script, or nil if there is none.
func findBootstrapCall(script []byte, name string) ([]string, error) {
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(bytes.NewReader(script), name)
	if err != nil {
		return nil, fmt.Errorf("user data: shell syntax: %w", err)
	}
	vars := map[string]string{}
	env := func() expand.Environ {
		var pairs []string
		for k, v := range vars {
			pairs = append(pairs, k+"="+v)
		}
		return expand.ListEnviron(pairs...)
	}
	var found []string
	var walkErr error
	syntax.Walk(file, func(n syntax.Node) bool {
		if found != nil || walkErr != nil {
			return false
		}
		call, ok := n.(*syntax.CallExpr)
		if !ok {
			return true
		}
		cfg := &expand.Config{Env: env()}
		if len(call.Args) == 0 { // plain assignments: remember them for later expansions
			for _, a := range call.Assigns {
				if a.Name == nil || a.Array != nil {
					continue
				}
				v, err := expand.Literal(cfg, a.Value)
				if err == nil {
					vars[a.Name.Value] = v
				}
			}
			return true
		}
		// Only the command word is needed to recognise the call; expand the rest if it is one.
		head, err := expand.Literal(cfg, call.Args[0])
		if err != nil {
			return true
		}
		args := call.Args
		for (head == "exec" || head == "sudo" || head == "bash" || head == "sh" || head == "env") && len(args) > 1 {
			args = args[1:]
			if head, err = expand.Literal(cfg, args[0]); err != nil {
				return true
			}
		}
		if head != BootstrapScript {
			return true
		}
		fields, err := expand.Fields(cfg, args[1:]...)
		if err != nil {
			walkErr = fmt.Errorf("user data: %s arguments: %w", BootstrapScript, err)
			return false
		}
		found = append([]string{}, fields...)
		return false
	})
	if walkErr != nil {
		return nil, walkErr
	}
	return found, nil
}

func parseBootstrapArgs(args []string) (*Bootstrap, error) {
	b := &Bootstrap{Labels: map[string]string{}}
	var positional []string
	var caB64 string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			positional = append(positional, a)
			continue
		}
		name, value, hasValue := strings.Cut(a, "=")
		if !bootstrapValueFlags[name] {
			return nil, fmt.Errorf("user data: %s: unknown option %q", BootstrapScript, name)
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("user data: %s: option %s needs a value", BootstrapScript, name)
			}
			i++
			value = args[i]
		}
		switch name {
		case "--apiserver-endpoint":
			b.APIServerEndpoint = value
		case "--b64-cluster-ca":
			caB64 = value
		case "--kubelet-extra-args":
			b.KubeletExtraArgs = strings.TrimSpace(b.KubeletExtraArgs + " " + value)
		case "--max-pods":
			n, err := strconv.ParseInt(value, 10, 32)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("user data: %s --max-pods: %q is not a positive integer", BootstrapScript, value)
			}
			b.MaxPods = int32(n)
		}
	}
	if len(positional) != 1 {
		return nil, fmt.Errorf("user data: %s: want exactly one cluster name argument, got %q", BootstrapScript, positional)
	}
	b.ClusterName = positional[0]
	if b.APIServerEndpoint == "" {
		return nil, fmt.Errorf("user data: %s: --apiserver-endpoint is missing (the real script would call eks:DescribeCluster; sandbox instances have no credentials for that)", BootstrapScript)
	}
	if caB64 == "" {
		return nil, fmt.Errorf("user data: %s: --b64-cluster-ca is missing", BootstrapScript)
	}
	ca, err := base64.StdEncoding.DecodeString(caB64)
	if err != nil {
		return nil, fmt.Errorf("user data: %s --b64-cluster-ca: %w", BootstrapScript, err)
	}
	b.ClusterCA = ca
	if err := b.parseKubeletArgs(); err != nil {
		return nil, err
	}
	return b, nil
}

// parseKubeletArgs reads --node-labels, --register-with-taints and --max-pods from the kubelet
// extra arguments. bootstrap.sh passes them to the kubelet unquoted (KUBELET_EXTRA_ARGS in a
// systemd drop-in), so they split on white space.
func (b *Bootstrap) parseKubeletArgs() error {
	fields := strings.Fields(b.KubeletExtraArgs)
	for i := 0; i < len(fields); i++ {
		name, value, hasValue := strings.Cut(fields[i], "=")
		switch name {
		case "--node-labels", "--register-with-taints", "--max-pods", "--pods-per-core", "--kube-reserved", "--system-reserved", "--eviction-hard":
		default:
			continue // other kubelet flags do not change the Node object the sandbox registers
		}
		if !hasValue {
			if i+1 >= len(fields) {
				return fmt.Errorf("user data: --kubelet-extra-args: %s needs a value", name)
			}
			i++
			value = fields[i]
		}
		switch name {
		case "--node-labels":
			for _, kv := range splitList(value) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("user data: --kubelet-extra-args --node-labels: %q is not key=value", kv)
				}
				if errs := validation.IsQualifiedName(k); len(errs) > 0 {
					return fmt.Errorf("user data: --kubelet-extra-args --node-labels: key %q: %s", k, strings.Join(errs, "; "))
				}
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					return fmt.Errorf("user data: --kubelet-extra-args --node-labels: value of %q: %s", k, strings.Join(errs, "; "))
				}
				b.Labels[k] = v
			}
			if err := checkKubeletLabels(b.Labels); err != nil {
				return fmt.Errorf("user data: --kubelet-extra-args --node-labels: %w", err)
			}
		case "--register-with-taints":
			for _, t := range splitList(value) {
				taint, err := parseTaint(t)
				if err != nil {
					return fmt.Errorf("user data: --kubelet-extra-args --register-with-taints: %w", err)
				}
				for _, t := range b.Taints {
					if t.Key == taint.Key && t.Effect == taint.Effect {
						return fmt.Errorf("user data: --kubelet-extra-args --register-with-taints: duplicated taints with the same key and effect: %v", taint)
					}
				}
				b.Taints = append(b.Taints, taint)
			}
		case "--max-pods":
			n, err := strconv.ParseInt(value, 10, 32)
			if err != nil || n <= 0 {
				return fmt.Errorf("user data: --kubelet-extra-args --max-pods: %q is not a positive integer", value)
			}
			b.MaxPods = int32(n)
		default:
			if err := b.parseAllocatableArg(name, value); err != nil {
				return fmt.Errorf("user data: --kubelet-extra-args %s: %w", name, err)
			}
		}
	}
	return nil
}

// parseAllocatableArg reads the kubelet flags that change a node's allocatable:
// --pods-per-core N, --kube-reserved and --system-reserved (resource=quantity,...) and
// --eviction-hard (signal<threshold,...), refusing what the kubelet refuses at start-up.
func (b *Bootstrap) parseAllocatableArg(name, value string) error {
	if name == "--pods-per-core" {
		n, err := strconv.ParseInt(value, 10, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a non-negative integer", value)
		}
		b.PodsPerCore = int32(n)
		return nil
	}
	sep := "="
	if name == "--eviction-hard" {
		sep = "<"
		b.EvictionHard = map[string]string{}
	}
	reserved := map[string]resource.Quantity{}
	for _, kv := range splitList(value) {
		k, v, ok := strings.Cut(kv, sep)
		if !ok {
			return fmt.Errorf("%q is not key%svalue", kv, sep)
		}
		if sep == "<" {
			b.EvictionHard[k] = v
			continue
		}
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() < 0 {
			return fmt.Errorf("%s: %q is not a non-negative quantity", k, v)
		}
		reserved[k] = q
	}
	switch name {
	case "--kube-reserved":
		b.KubeReserved = reserved
	case "--system-reserved":
		b.SystemReserved = reserved
	}
	return nil
}

// checkKubeletLabels refuses what the kubelet refuses at start-up (ValidateKubeletFlags in
// k8s.io/kubernetes cmd/kubelet/app/options): a label in the kubernetes.io or k8s.io domain or a
// subdomain that is not one a kubelet may set on its own Node (k8s.io/kubelet IsKubeletLabel),
// e.g. node-role.kubernetes.io/worker. The kubelet exits and the node never joins.
func checkKubeletLabels(labels map[string]string) error {
	var unknown []string
	for k := range labels {
		ns, _, prefixed := strings.Cut(k, "/")
		if !prefixed {
			ns = ""
		}
		kubernetes := ns == "kubernetes.io" || strings.HasSuffix(ns, ".kubernetes.io") || ns == "k8s.io" || strings.HasSuffix(ns, ".k8s.io")
		if kubernetes && !kubeletapis.IsKubeletLabel(k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: %v; --node-labels in the 'kubernetes.io' namespace must begin with an allowed prefix (%s) or be in the specifically allowed set (%s)",
		unknown, strings.Join(kubeletapis.KubeletLabelNamespaces(), ", "), strings.Join(kubeletapis.KubeletLabels(), ", "))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseTaint parses the kubelet's taint syntax key[=value]:Effect.
func parseTaint(s string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return corev1.Taint{}, fmt.Errorf("%q: want key[=value]:Effect", s)
	}
	key, value, _ := strings.Cut(kv, "=")
	if errs := validation.IsQualifiedName(key); len(errs) > 0 {
		return corev1.Taint{}, fmt.Errorf("%q: key: %s", s, strings.Join(errs, "; "))
	}
	if value != "" {
		if errs := validation.IsValidLabelValue(value); len(errs) > 0 {
			return corev1.Taint{}, fmt.Errorf("%q: value: %s", s, strings.Join(errs, "; "))
		}
	}
	switch e := corev1.TaintEffect(effect); e {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		return corev1.Taint{Key: key, Value: value, Effect: e}, nil
	default:
		return corev1.Taint{}, fmt.Errorf("%q: effect %q is not NoSchedule, PreferNoSchedule or NoExecute", s, effect)
	}
}
