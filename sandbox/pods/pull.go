package pods

import (
	"context"
	"fmt"
	"net"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeform/terraform-provider-karpenter/version"
)

// Image pulls. The sandbox has no container runtime: it runs a controller pod's containers as
// processes of Runner.Executable (the binary the controller image holds). Like a kubelet that
// cannot pull, it refuses a controller pod (ControllerPodLabel, or a container image in
// version.ControllerImageRepository) with a container image it cannot provide: that container
// stays Waiting with reason ErrImagePull and a message naming the image, the pod stays Pending
// and not Ready (so its Deployment does not become Available), and no process starts. Images it
// can provide (CanProvide) are the provider's default controller image for this build
// (version.ControllerImage) and images present in a registry on a loopback address (what `make
// image-push IMAGE=127.0.0.1:<port>/...` pushes). Other pods are kwok's: they run no process and
// need no image. The check runs each time the pod changes; a pod refused stays refused until
// then (a kubelet would retry the pull with a back-off). A pod whose images can be provided is
// annotated ImagesPulledAnnotation=true before its processes start: kwok's pod-running Stage
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

// headTimeout bounds one registry lookup.
const headTimeout = 5 * time.Second

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

// CanProvide reports whether the sandbox can provide image: it is version.ControllerImage() (the
// provider's default image of this build), or a registry on a loopback address (localhost,
// 127.0.0.0/8, ::1) has it (a HEAD of its manifest succeeds within 5 s). Any other registry is
// never contacted. err says why not (for the container's waiting message).
func CanProvide(ctx context.Context, image string) (bool, error) {
	if image == version.ControllerImage() {
		return true, nil
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return false, fmt.Errorf("invalid image reference: %w", err)
	}
	host := ref.Context().RegistryStr()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return false, fmt.Errorf("the sandbox pulls from no registry but loopback ones (only %s is built in)", version.ControllerImage())
	}
	hctx, cancel := context.WithTimeout(ctx, headTimeout)
	defer cancel()
	if _, err := remote.Head(ref, remote.WithContext(hctx)); err != nil {
		return false, err
	}
	return true, nil
}

// missingImages returns, by container name, why the images of pod's containers that the
// sandbox cannot provide cannot be pulled.
func missingImages(ctx context.Context, pod *corev1.Pod) map[string]string {
	out := map[string]string{}
	for _, c := range pod.Spec.Containers {
		if ok, err := CanProvide(ctx, c.Image); !ok {
			out[c.Name] = fmt.Sprintf("Failed to pull image %q: %v", c.Image, err)
		}
	}
	return out
}

// reportPullFailure writes pod's status as a kubelet that cannot pull the images of missing
// (container name -> message) does: phase Pending, not Ready, those containers Waiting with
// reason ErrImagePull, the others Waiting with ContainerCreating. kwok's pod-running Stage
// skips a pod in this state. Unchanged when the status already says so.
func reportPullFailure(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, missing map[string]string) error {
	if pullFailureReported(pod, missing) {
		return nil
	}
	now := metav1.Now()
	st := pod.DeepCopy()
	st.Status.Phase = corev1.PodPending
	var names []string
	st.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		w := &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		if msg, ok := missing[c.Name]; ok {
			w = &corev1.ContainerStateWaiting{Reason: ReasonErrImagePull, Message: msg}
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

// pullFailureReported reports whether pod's status already shows every container of missing
// Waiting with ErrImagePull, phase Pending and Ready False.
func pullFailureReported(pod *corev1.Pod, missing map[string]string) bool {
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
		if _, ok := missing[c.Name]; ok && c.State.Waiting != nil && c.State.Waiting.Reason == ReasonErrImagePull {
			waiting++
		}
	}
	return waiting == len(missing)
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
