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

// mapRoleExistsError is returned by addMapRole when mapRoles already has an entry for the
// role: an entry this resource did not add is never taken over.
type mapRoleExistsError struct{ Existing awsAuthRole }

func (e *mapRoleExistsError) Error() string {
	return fmt.Sprintf("kube-system/aws-auth data.mapRoles already has an entry for %s (username %q, groups %v) that this "+
		"resource did not add; it is left as it is. To let nodes join through that entry as it is, manage no node access "+
		"for the role (with the karpenter module: node_access_method = \"none\"); to manage the entry with Terraform, "+
		"import it (terraform import <address> %s); otherwise remove it from aws-auth first", e.Existing.RoleARN,
		e.Existing.Username, e.Existing.Groups, e.Existing.RoleARN)
}

// addMapRole appends an entry for role and returns the YAML, or a *mapRoleExistsError if an
// entry for role.RoleARN exists already.
func addMapRole(entries []map[string]any, role awsAuthRole) (string, error) {
	if existing, ok := findMapRole(entries, role.RoleARN); ok {
		return "", &mapRoleExistsError{Existing: existing}
	}
	return upsertMapRole(entries, role)
}

// upsertMapRole replaces the first entry of role.RoleARN (the one this resource added: it
// refuses to add one while another exists, and later ones are appended) or appends one, and
// returns the YAML; other entries, including later ones for the same role, are kept.
func upsertMapRole(entries []map[string]any, role awsAuthRole) (string, error) {
	groups := make([]any, 0, len(role.Groups))
	for _, g := range role.Groups {
		groups = append(groups, g)
	}
	entry := map[string]any{"rolearn": role.RoleARN, "username": role.Username, "groups": groups}
	for i, e := range entries {
		if s, _ := e["rolearn"].(string); s == role.RoleARN {
			entries[i] = entry
			return marshalMapRoles(entries)
		}
	}
	return marshalMapRoles(append(entries, entry))
}

// removeMapRole drops the first entry of roleARN (see upsertMapRole) and returns the YAML;
// any later entry for the same role, added by someone else, is kept.
func removeMapRole(entries []map[string]any, roleARN string) (string, error) {
	kept := entries[:0:0]
	removed := false
	for _, e := range entries {
		if s, _ := e["rolearn"].(string); s == roleARN && !removed {
			removed = true
			continue
		}
		kept = append(kept, e)
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
