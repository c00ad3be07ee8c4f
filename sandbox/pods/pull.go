package pods

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Image pulls. The sandbox has no container runtime, but it runs a controller pod's containers
// as a runtime would, as processes of the image's own executable. Like a kubelet that cannot
// pull, it refuses a controller pod (ControllerPodLabel, or a container image in
// version.ControllerImageRepository) with a container image it cannot provide: that container
// stays Waiting with reason ErrImagePull and a message naming the image, the pod stays Pending
// and not Ready (so its Deployment does not become Available), and no process starts. The
// images it can provide are:
//
//   - the provider's default controller image of this build (version.ControllerImage), which
//     is not pulled: its run configuration is image.Config (what `make image` writes) and its
//     entrypoint image.BinaryPath is Runner.Executable;
//   - images in a registry on a loopback address (what `make image-push
//     IMAGE=127.0.0.1:<port>/...` pushes), pulled as a runtime pulls them (pull.go, fetch.go):
//     the manifest for this machine's platform (runtime.GOOS/GOARCH) of an image index, its
//     configuration's Entrypoint, Cmd and Env, and the file the command line's first word names
//     in the image's filesystem (its layers flattened), which is what runs.
//
// Any other registry is never contacted. A container whose image has no manifest for this
// platform, or whose layers cannot be read, stays Waiting in ErrImagePull; one whose command
// names no file of the image, or a file that is not an executable for this machine (not
// executable, not ELF for this architecture nor a #! script) or no command at all, stays Waiting
// in RunContainerError (CreateContainerError for no command) with the runtime's message; in
// both cases no process of the pod starts. The pull runs in the pod's goroutine, not in the
// informer's event handler; the executable is cached by image digest under
// <StateDir>/images/, so a restart of the pod or of the sandbox does not extract it again.
// The check runs each time the pod changes; a pod refused stays refused until then (a kubelet
// would retry the pull with a back-off). A pod whose images can be provided is annotated
// ImagesPulledAnnotation=true before its processes start: kwok's pod-running Stage
// (sandbox/cluster/kwok-stages.yaml) starts a controller pod (turns it Running and Ready) only
// once it carries that annotation, as a kubelet reports a container running only after its
// image is pulled; without it a misspelt image's Deployment would be Available for a moment.

// ControllerPodLabel (with value "karpenter") marks controller pods, as the Deployments of
// karpenter_controller and of the Helm chart label them.
const ControllerPodLabel = "app.kubernetes.io/name"

// ReasonErrImagePull is the waiting reason of a container whose image cannot be provided.
const ReasonErrImagePull = "ErrImagePull"

// ImagesPulledAnnotation (value "true") on a controller pod says its images were found; kwok's
// pod-running Stage waits for it.
const ImagesPulledAnnotation = "sandbox.nodeform.github.io/images-pulled"

// Waiting reasons of a container whose command cannot be run (the kubelet's).
const (
	ReasonRunContainerError    = "RunContainerError"
	ReasonCreateContainerError = "CreateContainerError"
)

// pullTimeout bounds one image pull (manifest, configuration, layers) from a loopback registry.
const pullTimeout = 5 * time.Minute

// isControllerPod reports whether the runner runs pod: it is labelled as a controller pod or
// one of its containers has an image in version.ControllerImageRepository.
func isControllerPod(pod *corev1.Pod) bool {
	if pod.Labels[ControllerPodLabel] == "karpenter" {
		return true
	}
	for _, c := range pod.Spec.Containers {
		if IsControllerImage(c.Image) {
			return true
		}
	}
	return false
}

// containerFailure is why a container cannot start: its waiting reason (ReasonErrImagePull,
// ReasonRunContainerError, ReasonCreateContainerError) and message.
type containerFailure struct {
	Reason, Message string
}

// reportFailure writes pod's status as a kubelet that cannot start the containers of failed
// (container name -> why) does: phase Pending, not Ready, those containers Waiting with their
// reason and message, the others Waiting with ContainerCreating. kwok's pod-running Stage
// skips a pod in this state (it is not annotated ImagesPulledAnnotation). Unchanged when the
// status already says so.
func reportFailure(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, failed map[string]containerFailure) error {
	if failureReported(pod, failed) {
		return nil
	}
	now := metav1.Now()
	st := pod.DeepCopy()
	st.Status.Phase = corev1.PodPending
	var names []string
	st.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		w := &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		if f, ok := failed[c.Name]; ok {
			w = &corev1.ContainerStateWaiting{Reason: f.Reason, Message: f.Message}
		}
		names = append(names, c.Name)
		st.Status.ContainerStatuses = append(st.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, State: corev1.ContainerState{Waiting: w}, Started: new(bool)})
	}
	notReady := fmt.Sprintf("containers with unready status: %v", names)
	st.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: notReady, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: notReady, LastTransitionTime: now},
	}
	_, err := cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, st, metav1.UpdateOptions{})
	return err
}

// failureReported reports whether pod's status already shows every container of failed
// Waiting with its reason and message, phase Pending and Ready False.
func failureReported(pod *corev1.Pod, failed map[string]containerFailure) bool {
	if pod.Status.Phase != corev1.PodPending {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionFalse {
			return false
		}
	}
	waiting := 0
	for _, c := range pod.Status.ContainerStatuses {
		if f, ok := failed[c.Name]; ok && c.State.Waiting != nil && c.State.Waiting.Reason == f.Reason && c.State.Waiting.Message == f.Message {
			waiting++
		}
	}
	return waiting == len(failed)
}

// markPulled annotates pod with ImagesPulledAnnotation=true unless it has it already (a JSON
// merge patch of its metadata), retrying failed patches with client-go's default back-off
// (4 tries within about 0.3 s). Errors: the last patch's; a pod gone meanwhile is not one.
func markPulled(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) error {
	if pod.Annotations[ImagesPulledAnnotation] == "true" {
		return nil
	}
	patch := []byte(`{"metadata":{"annotations":{"` + ImagesPulledAnnotation + `":"true"}}}`)
	err := retry.OnError(retry.DefaultBackoff, func(err error) bool { return !apierrors.IsNotFound(err) && ctx.Err() == nil }, func() error {
		_, err := cs.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
