package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// Milestones of a pod and a node that a Trace records, in the order they happen.
const (
	PodCreated       = "pod created"
	PodUnschedulable = "pod unschedulable"
	PodBound         = "pod bound"
	PodRunning       = "pod running"
	NodeCreated      = "node created"
	NodeReady        = "node ready"
)

// traceMilestones is the order in which Trace.Write prints the milestones.
var traceMilestones = []string{PodCreated, PodUnschedulable, NodeCreated, NodeReady, PodBound, PodRunning}

// Trace watches pods (of one label selector) and nodes and records, on the caller's clock, when
// each first reached each milestone: a pod was seen at all, marked PodScheduled=False reason
// Unschedulable, bound to a node, Running; a node was seen, turned Ready. Watch events arrive
// within milliseconds, so a Trace times the steps of a scale-up more finely than the objects'
// one-second condition timestamps. Safe for concurrent use.
type Trace struct {
	start time.Time
	now   func() time.Time

	mu  sync.Mutex
	at  map[string]map[string]time.Duration // milestone -> object name -> time since start
	ign map[string]bool                     // nodes that existed before start
}

// StartTrace begins recording from now: it watches pods in namespace matching selector and all
// nodes until ctx ends; nodes present before the watch started are not counted. It returns once
// the watch caches have synced. Errors: the caches did not sync before ctx ended.
func StartTrace(ctx context.Context, kube *Kube, namespace, selector string) (*Trace, error) {
	t := &Trace{start: time.Now(), now: time.Now, at: map[string]map[string]time.Duration{}, ign: map[string]bool{}}
	nodes, err := kube.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	for _, n := range nodes.Items {
		t.ign[n.Name] = true
	}
	podFactory := informers.NewSharedInformerFactoryWithOptions(kube.Clientset, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	nodeFactory := informers.NewSharedInformerFactory(kube.Clientset, 0)
	onPod := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			t.observePod(p)
		}
	}
	onNode := func(obj any) {
		if n, ok := obj.(*corev1.Node); ok {
			t.observeNode(n)
		}
	}
	if _, err := podFactory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onPod, UpdateFunc: func(_, obj any) { onPod(obj) }}); err != nil {
		return nil, err
	}
	if _, err := nodeFactory.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onNode, UpdateFunc: func(_, obj any) { onNode(obj) }}); err != nil {
		return nil, err
	}
	podFactory.Start(ctx.Done())
	nodeFactory.Start(ctx.Done())
	for typ, ok := range podFactory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("trace: %v cache did not sync", typ)
		}
	}
	for typ, ok := range nodeFactory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return nil, fmt.Errorf("trace: %v cache did not sync", typ)
		}
	}
	return t, nil
}

// Restart makes now the trace's zero and forgets what it recorded so far.
func (t *Trace) Restart() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.start = t.now()
	t.at = map[string]map[string]time.Duration{}
}

// mark records milestone m of object name unless it was recorded before. Caller holds t.mu.
func (t *Trace) mark(m, name string) {
	byName := t.at[m]
	if byName == nil {
		byName = map[string]time.Duration{}
		t.at[m] = byName
	}
	if _, seen := byName[name]; !seen {
		byName[name] = t.now().Sub(t.start)
	}
}

func (t *Trace) observePod(p *corev1.Pod) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mark(PodCreated, p.Name)
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			t.mark(PodUnschedulable, p.Name)
		}
	}
	if p.Spec.NodeName != "" {
		t.mark(PodBound, p.Name)
	}
	if p.Status.Phase == corev1.PodRunning {
		t.mark(PodRunning, p.Name)
	}
}

func (t *Trace) observeNode(n *corev1.Node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ign[n.Name] {
		return
	}
	t.mark(NodeCreated, n.Name)
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			t.mark(NodeReady, n.Name)
		}
	}
}

// TraceQuantiles are the seconds after the trace's start by which the first, half, 99% and all
// of the objects that reached a milestone had reached it.
type TraceQuantiles struct {
	Count                 int
	First, P50, P99, Last float64
}

// Quantiles returns the TraceQuantiles of milestone m (zero Count when none reached it).
func (t *Trace) Quantiles(m string) TraceQuantiles {
	t.mu.Lock()
	ds := make([]time.Duration, 0, len(t.at[m]))
	for _, d := range t.at[m] {
		ds = append(ds, d)
	}
	t.mu.Unlock()
	if len(ds) == 0 {
		return TraceQuantiles{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	q := func(f float64) float64 { return ds[min(len(ds)-1, int(f*float64(len(ds)-1)+0.5))].Seconds() }
	return TraceQuantiles{Count: len(ds), First: ds[0].Seconds(), P50: q(0.5), P99: q(0.99), Last: ds[len(ds)-1].Seconds()}
}

// Write prints one line per milestone: how many objects reached it and when the first, half,
// 99% and all of them had.
func (t *Trace) Write(w io.Writer) {
	fmt.Fprintf(w, "  %-18s %6s %7s %7s %7s %7s  (seconds after scaling, from watch events)\n", "milestone", "count", "first", "p50", "p99", "last")
	for _, m := range traceMilestones {
		q := t.Quantiles(m)
		if q.Count == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-18s %6d %7.1f %7.1f %7.1f %7.1f\n", m, q.Count, q.First, q.P50, q.P99, q.Last)
	}
}

// WriteJSON writes what the trace recorded to path: for each milestone, each object's seconds
// after the trace's start. Errors: the file cannot be written.
func (t *Trace) WriteJSON(path string) error {
	t.mu.Lock()
	out := map[string]map[string]float64{}
	for m, byName := range t.at {
		out[m] = make(map[string]float64, len(byName))
		for name, d := range byName {
			out[m][name] = d.Seconds()
		}
	}
	t.mu.Unlock()
	data, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// Wait blocks until count objects have reached milestone m, polling the trace's own records
// (no API call) every 100 ms; every 10 s it writes how far each milestone got to log. Errors:
// ctx ends or timeout passes first (saying how many had).
func (t *Trace) Wait(ctx context.Context, m string, count int, timeout time.Duration, log io.Writer) error {
	lastReport := t.now()
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		if t.now().Sub(lastReport) >= 10*time.Second {
			lastReport = t.now()
			fmt.Fprintf(log, "  ... %s\n", t.progress())
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		return len(t.at[m]) >= count, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %d objects to reach %q: %w (%s)", count, m, err, t.progress())
	}
	return nil
}

// progress says how many objects reached each milestone so far.
func (t *Trace) progress() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	parts := make([]string, 0, len(traceMilestones))
	for _, m := range traceMilestones {
		parts = append(parts, fmt.Sprintf("%d %s", len(t.at[m]), m))
	}
	return strings.Join(parts, ", ")
}
