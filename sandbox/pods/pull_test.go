package pods_test

import (
	"os"
	"strings"
	"testing"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/pods"
	"github.com/nodeform/terraform-provider-karpenter/version"
)

// TestKwokWaitsForPulledImages: kwok's pod-running Stage holds back exactly the pods the runner
// treats as controller pods until they carry pods.ImagesPulledAnnotation: its selector names
// that annotation, the label, and a pattern of version.ControllerImageRepository.
func TestKwokWaitsForPulledImages(t *testing.T) {
	b, err := os.ReadFile("../cluster/kwok-stages.yaml")
	if err != nil {
		t.Fatal(err)
	}
	repo := strings.ReplaceAll(version.ControllerImageRepository, ".", `\\.`)
	for _, want := range []string{pods.ImagesPulledAnnotation, `"` + pods.ControllerPodLabel + `"] // "") == "karpenter"`, `"^` + repo + `([:@]|$)"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("kwok-stages.yaml has no %s", want)
		}
	}
}
