package pods

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// containerEnv resolves the container's envFrom and env (value, and valueFrom fieldRef,
// secretKeyRef, configMapKeyRef) to "K=V" pairs in the kubelet's order: envFrom first, then
// env, later entries overriding earlier ones. $(VAR) references are expanded against the
// variables defined before them (the kubelet's rule: unknown references stay as written, $$
// escapes). Errors name the field path (spec.containers[name].env[i]...).
func containerEnv(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, c corev1.Container) ([]string, error) {
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	path := fmt.Sprintf("spec.containers[%s]", c.Name)
	for i, src := range c.EnvFrom {
		var data map[string]string
		optional := false
		switch {
		case src.ConfigMapRef != nil:
			optional = src.ConfigMapRef.Optional != nil && *src.ConfigMapRef.Optional
			cm, err := cs.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, src.ConfigMapRef.Name, metav1.GetOptions{})
			if err != nil {
				if optional {
					continue
				}
				return nil, fmt.Errorf("%s.envFrom[%d].configMapRef: %w", path, i, err)
			}
			data = cm.Data
		case src.SecretRef != nil:
			optional = src.SecretRef.Optional != nil && *src.SecretRef.Optional
			s, err := cs.CoreV1().Secrets(pod.Namespace).Get(ctx, src.SecretRef.Name, metav1.GetOptions{})
			if err != nil {
				if optional {
					continue
				}
				return nil, fmt.Errorf("%s.envFrom[%d].secretRef: %w", path, i, err)
			}
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
		for k, v := range data {
			set(src.Prefix+k, v)
		}
	}
	for i, e := range c.Env {
		p := fmt.Sprintf("%s.env[%d](%s)", path, i, e.Name)
		if e.ValueFrom == nil {
			set(e.Name, expandRefs(e.Value, vals))
			continue
		}
		v, skip, err := valueFrom(ctx, cs, pod, e.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("%s.valueFrom: %w", p, err)
		}
		if !skip {
			set(e.Name, v)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

func valueFrom(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, src *corev1.EnvVarSource) (value string, skip bool, err error) {
	switch {
	case src.FieldRef != nil:
		switch fp := src.FieldRef.FieldPath; fp {
		case "metadata.name":
			return pod.Name, false, nil
		case "metadata.namespace":
			return pod.Namespace, false, nil
		case "metadata.uid":
			return string(pod.UID), false, nil
		case "spec.nodeName":
			return pod.Spec.NodeName, false, nil
		case "spec.serviceAccountName":
			return pod.Spec.ServiceAccountName, false, nil
		case "status.podIP":
			return pod.Status.PodIP, false, nil
		case "status.hostIP":
			return pod.Status.HostIP, false, nil
		default:
			if k, ok := strings.CutPrefix(fp, "metadata.labels['"); ok {
				return pod.Labels[strings.TrimSuffix(k, "']")], false, nil
			}
			if k, ok := strings.CutPrefix(fp, "metadata.annotations['"); ok {
				return pod.Annotations[strings.TrimSuffix(k, "']")], false, nil
			}
			return "", false, fmt.Errorf("fieldRef.fieldPath %q is not supported", fp)
		}
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := cs.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return "", optional, ignoreIf(optional, fmt.Errorf("configMapKeyRef: %w", err))
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			return "", optional, ignoreIf(optional, fmt.Errorf("configMapKeyRef: key %q not in configmap %s", ref.Key, ref.Name))
		}
		return v, false, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, err := cs.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return "", optional, ignoreIf(optional, fmt.Errorf("secretKeyRef: %w", err))
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			return "", optional, ignoreIf(optional, fmt.Errorf("secretKeyRef: key %q not in secret %s", ref.Key, ref.Name))
		}
		return string(v), false, nil
	}
	return "", false, fmt.Errorf("no supported source (fieldRef, configMapKeyRef, secretKeyRef)")
}

func ignoreIf(optional bool, err error) error {
	if optional {
		return nil
	}
	return err
}

// expandRefs expands $(NAME) with vals; unknown names stay as written and $$ is a literal $
// (the kubelet's rule for env values, command and args).
func expandRefs(s string, vals map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vals[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
