package provider

import (
	"fmt"

	"sigs.k8s.io/yaml"
)

// awsAuthRole is one entry of the mapRoles key of the kube-system/aws-auth ConfigMap (source:
// Amazon EKS User Guide, "Add IAM principals to your Amazon EKS cluster", aws-auth format).
type awsAuthRole struct {
	RoleARN  string   `json:"rolearn"`
	Username string   `json:"username"`
	Groups   []string `json:"groups,omitempty"`
}

// parseMapRoles parses mapRoles YAML; entries are kept as generic maps so that fields this
// provider does not know survive a rewrite. Empty input is an empty list.
func parseMapRoles(s string) ([]map[string]any, error) {
	var out []map[string]any
	if s == "" {
		return out, nil
	}
	if err := yaml.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("kube-system/aws-auth data.mapRoles is not a YAML list: %w", err)
	}
	return out, nil
}

// findMapRole returns the entry for roleARN, if any.
func findMapRole(entries []map[string]any, roleARN string) (awsAuthRole, bool) {
	for _, e := range entries {
		if s, _ := e["rolearn"].(string); s == roleARN {
			var r awsAuthRole
			b, err := yaml.Marshal(e)
			if err != nil || yaml.Unmarshal(b, &r) != nil {
				return awsAuthRole{RoleARN: roleARN}, true
			}
			return r, true
		}
	}
	return awsAuthRole{}, false
}

// upsertMapRole replaces the entry of role.RoleARN (or appends one) and returns the YAML;
// other entries are kept as they were.
func upsertMapRole(entries []map[string]any, role awsAuthRole) (string, error) {
	groups := make([]any, 0, len(role.Groups))
	for _, g := range role.Groups {
		groups = append(groups, g)
	}
	entry := map[string]any{"rolearn": role.RoleARN, "username": role.Username, "groups": groups}
	replaced := false
	for i, e := range entries {
		if s, _ := e["rolearn"].(string); s == role.RoleARN {
			if !replaced {
				entries[i] = entry
				replaced = true
			}
		}
	}
	if !replaced {
		entries = append(entries, entry)
	}
	return marshalMapRoles(entries)
}

// removeMapRole drops every entry of roleARN and returns the YAML.
func removeMapRole(entries []map[string]any, roleARN string) (string, error) {
	kept := entries[:0:0]
	for _, e := range entries {
		if s, _ := e["rolearn"].(string); s != roleARN {
			kept = append(kept, e)
		}
	}
	return marshalMapRoles(kept)
}

func marshalMapRoles(entries []map[string]any) (string, error) {
	if len(entries) == 0 {
		return "", nil
	}
	b, err := yaml.Marshal(entries)
	return string(b), err
}
