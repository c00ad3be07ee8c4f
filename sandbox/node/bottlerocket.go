package node

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ParseUserDataFor parses user data in the format of an AMI family: Bottlerocket reads TOML
// settings (ParseBottlerocketUserData); AL2, Ubuntu and "" run shell scripts that call
// /etc/eks/bootstrap.sh (ParseUserData). An unknown family is an error.
func ParseUserDataFor(family string, data []byte) (*Bootstrap, error) {
	switch family {
	case "", "AL2", "Ubuntu":
		return ParseUserData(data)
	case "Bottlerocket":
		return ParseBottlerocketUserData(data)
	}
	return nil, fmt.Errorf("user data: unknown AMI family %q", family)
}

// bottlerocketKubernetes is the part of Bottlerocket's settings.kubernetes (Bottlerocket
// settings reference, "settings.kubernetes.*") that decides how the node registers.
type bottlerocketKubernetes struct {
	ClusterName        string            `toml:"cluster-name"`
	APIServer          string            `toml:"api-server"`
	ClusterCertificate string            `toml:"cluster-certificate"` // base64 of the PEM
	NodeLabels         map[string]string `toml:"node-labels"`
	NodeTaints         map[string]any    `toml:"node-taints"` // key -> "value:Effect" or a list of them
	MaxPods            *int64            `toml:"max-pods"`
	KubeReserved       map[string]string `toml:"kube-reserved"`
	SystemReserved     map[string]string `toml:"system-reserved"`
	EvictionHard       map[string]string `toml:"eviction-hard"`
	ClusterDNSIP       any               `toml:"cluster-dns-ip"` // an address or a list
}

// ParseBottlerocketUserData reads Bottlerocket user data (TOML settings) as a Bottlerocket
// node's early boot and kubelet would: settings.kubernetes.cluster-name, api-server and
// cluster-certificate (base64 PEM) are required; node-labels, node-taints (key to
// "value:Effect" or a list of them), max-pods, kube-reserved, system-reserved and eviction-hard
// shape the Node. Errors: not TOML, a setting of the wrong type, a missing cluster setting, a
// label or taint the kubelet refuses, a bad quantity.
func ParseBottlerocketUserData(data []byte) (*Bootstrap, error) {
	var doc struct {
		Settings struct {
			Kubernetes bottlerocketKubernetes `toml:"kubernetes"`
		} `toml:"settings"`
	}
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("user data: Bottlerocket settings are not TOML: %w", err)
	}
	k := doc.Settings.Kubernetes
	for _, s := range []struct{ name, v string }{{"cluster-name", k.ClusterName}, {"api-server", k.APIServer}, {"cluster-certificate", k.ClusterCertificate}} {
		if s.v == "" {
			return nil, fmt.Errorf("user data: settings.kubernetes.%s is missing", s.name)
		}
	}
	ca, err := base64.StdEncoding.DecodeString(k.ClusterCertificate)
	if err != nil {
		return nil, fmt.Errorf("user data: settings.kubernetes.cluster-certificate: %w", err)
	}
	b := &Bootstrap{ClusterName: k.ClusterName, APIServerEndpoint: k.APIServer, ClusterCA: ca, Labels: map[string]string{}}
	for key, v := range k.NodeLabels {
		if errs := validation.IsQualifiedName(key); len(errs) > 0 {
			return nil, fmt.Errorf("user data: settings.kubernetes.node-labels: key %q: %s", key, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("user data: settings.kubernetes.node-labels: value of %q: %s", key, strings.Join(errs, "; "))
		}
		b.Labels[key] = v
	}
	if err := checkKubeletLabels(b.Labels); err != nil {
		return nil, fmt.Errorf("user data: settings.kubernetes.node-labels: %w", err)
	}
	keys := make([]string, 0, len(k.NodeTaints))
	for key := range k.NodeTaints {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		var values []string
		switch v := k.NodeTaints[key].(type) {
		case string:
			values = []string{v}
		case []any:
			for _, e := range v {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("user data: settings.kubernetes.node-taints.%s: %v is not a string", key, e)
				}
				values = append(values, s)
			}
		default:
			return nil, fmt.Errorf("user data: settings.kubernetes.node-taints.%s: want \"value:Effect\" or a list of them, got %T", key, v)
		}
		for _, ve := range values {
			t, err := parseTaint(key + "=" + ve)
			if err != nil {
				return nil, fmt.Errorf("user data: settings.kubernetes.node-taints: %w", err)
			}
			for _, o := range b.Taints {
				if o.Key == t.Key && o.Effect == t.Effect {
					return nil, fmt.Errorf("user data: settings.kubernetes.node-taints: duplicated taints with the same key and effect: %v", t)
				}
			}
			b.Taints = append(b.Taints, t)
		}
	}
	if k.MaxPods != nil {
		if *k.MaxPods <= 0 || *k.MaxPods > 1<<31-1 {
			return nil, fmt.Errorf("user data: settings.kubernetes.max-pods: %d is not a positive 32-bit integer", *k.MaxPods)
		}
		b.MaxPods = int32(*k.MaxPods)
	}
	for _, r := range []struct {
		name string
		in   map[string]string
		out  *map[string]resource.Quantity
	}{{"kube-reserved", k.KubeReserved, &b.KubeReserved}, {"system-reserved", k.SystemReserved, &b.SystemReserved}} {
		if len(r.in) == 0 {
			continue
		}
		*r.out = map[string]resource.Quantity{}
		for name, v := range r.in {
			q, err := resource.ParseQuantity(v)
			if err != nil || q.Sign() < 0 {
				return nil, fmt.Errorf("user data: settings.kubernetes.%s.%s: %q is not a non-negative quantity", r.name, name, v)
			}
			(*r.out)[name] = q
		}
	}
	if len(k.EvictionHard) > 0 {
		b.EvictionHard = map[string]string{}
		for sig, v := range k.EvictionHard {
			b.EvictionHard[sig] = v
		}
	}
	return b, nil
}
