package pods_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/pods"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
	"github.com/nodeform/terraform-provider-karpenter/version"
)

// TestCanProvide: the sandbox provides the default controller image of this build and images a
// loopback registry has; a misspelt repository or tag, an image missing from the loopback
// registry and any image of another registry (never contacted) are not provided, and the error
// says why.
func TestCanProvide(t *testing.T) {
	pushed := sandboxtest.LoopbackImage(t, "nodeform/karpenter-controller:v9.9.9")
	host := strings.SplitN(pushed, "/", 2)[0]
	for image, want := range map[string]string{
		version.ControllerImage(): "",
		pushed:                    "",
		"ghcr.io/nodeform/karpenter-controler:" + version.Version:       "loopback",
		version.ControllerImageRepository + ":" + version.Version + "x": "loopback",
		host + "/nodeform/karpenter-controller:v9.9.8":                  "404 Not Found",
		"example.com/other:1": "loopback",
		"Bad Reference":       "invalid image reference",
	} {
		ok, err := pods.CanProvide(context.Background(), image)
		switch {
		case want == "" && (!ok || err != nil):
			t.Errorf("CanProvide(%q) = %v, %v; want true", image, ok, err)
		case want != "" && (ok || err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("CanProvide(%q) = %v, %v; want false with an error containing %q", image, ok, err, want)
		}
	}
}

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
