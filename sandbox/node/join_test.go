package node

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

type fakeAccess struct {
	mode    string
	entries map[string]string
}

func (f fakeAccess) AuthenticationMode() string { return f.mode }
func (f fakeAccess) AccessEntryType(arn string) (string, bool) {
	t, ok := f.entries[arn]
	return t, ok
}

// TestCheckNodeAccess: a node role joins through aws-auth, an EC2_LINUX access entry or both,
// as the cluster's authentication mode allows, and through nothing else.
func TestCheckNodeAccess(t *testing.T) {
	const (
		mapped  = "arn:aws:iam::111122223333:role/mapped"
		entry   = "arn:aws:iam::111122223333:role/entry"
		std     = "arn:aws:iam::111122223333:role/standard"
		nothing = "arn:aws:iam::111122223333:role/nothing"
	)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: AWSAuthNamespace, Name: AWSAuthName},
		Data: map[string]string{"mapRoles": "- rolearn: " + mapped + "\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]\n"}}
	admin := fake.NewClientset(cm)
	entries := map[string]string{entry: "EC2_LINUX", std: "STANDARD"}
	for _, c := range []struct {
		mode, role string
		want       string // "" = joins; else part of the error
	}{
		{"CONFIG_MAP", mapped, ""},
		{"CONFIG_MAP", entry, "is not mapped"},
		{"API_AND_CONFIG_MAP", mapped, ""},
		{"API_AND_CONFIG_MAP", entry, ""},
		{"API_AND_CONFIG_MAP", std, "type STANDARD"},
		{"API_AND_CONFIG_MAP", nothing, "no access entry, and"},
		{"API", entry, ""},
		{"API", mapped, "authentication mode is API"},
		{"API", nothing, "has no access entry"},
	} {
		j := &Joiner{Access: fakeAccess{mode: c.mode, entries: entries}}
		err := j.checkNodeAccess(context.Background(), admin, c.role)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %s: %v, want to join", c.mode, c.role, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %s: %v, want an error containing %q", c.mode, c.role, err, c.want)
		}
	}
	// Without an access resolver the cluster is CONFIG_MAP.
	if err := (&Joiner{}).checkNodeAccess(context.Background(), admin, entry); err == nil {
		t.Error("no resolver: an unmapped role joined")
	}
}
