package scheduling

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Inter-pod constraints at the scope of one node (topologyKey kubernetes.io/hostname), as
// kube-scheduler's InterPodAffinity filter applies them
// (https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#inter-pod-affinity-and-anti-affinity):
//   - a pod's required anti-affinity term refuses a node that holds a pod the term matches;
//   - a pod already on a node refuses, through its own required anti-affinity terms, an incoming
//     pod those terms match (the symmetric check);
//   - a pod's required affinity term needs a node that holds a pod the term matches, unless no
//     pod anywhere matches it and the pod matches the term itself (the first pod of a group
//     that requires co-location with itself).
//   - a pod's topology spread constraint on kubernetes.io/hostname with whenUnsatisfiable
//     DoNotSchedule (https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/)
//     is met conservatively: a node takes the pod only while the pods the constraint counts
//     there (same namespace, selector matched), plus the pod itself if it matches, stay within
//     maxSkew. kube-scheduler's skew is that count minus the minimum over eligible nodes, and the
//     minimum is never negative, so such a node is always accepted, whatever minDomains,
//     nodeAffinityPolicy and nodeTaintsPolicy say about the other nodes.
// Terms and constraints with other topology keys (zone, capacity type) are not modelled here yet.

// podTerm is one compiled pod (anti-)affinity term.
type podTerm struct {
	// namespaces the term selects pods in; nil with allNamespaces means every namespace.
	namespaces    sets.Set[string]
	allNamespaces bool
	// nsSelector selects namespaces by label (nil: none beyond namespaces).
	nsSelector  labels.Selector
	selector    labels.Selector
	topologyKey string
	// id is the term's 1-based index among the terms its topology interned (0: not interned),
	// the index of the per-term caches podInfo.selected and host.counts.
	id int
}

// matches reports whether pod p (with namespace labels nsLabels, may be nil) is selected.
func (t *podTerm) matches(p *corev1.Pod, nsLabels map[string]string) bool {
	inNS := t.allNamespaces || t.namespaces.Has(p.Namespace) ||
		(t.nsSelector != nil && nsLabels != nil && t.nsSelector.Matches(labels.Set(nsLabels)))
	return inNS && t.selector.Matches(labels.Set(p.Labels))
}

// writeID writes what identifies the pods t selects: its selector, namespaces and namespace
// selector; %T tells labels.Nothing() from labels.Everything(), whose String() are both "".
func (t *podTerm) writeID(b *strings.Builder) {
	fmt.Fprintf(b, "%T%s\x00%v\x00", t.selector, t.selector, t.allNamespaces)
	b.WriteString(strings.Join(sets.List(t.namespaces), ","))
	if t.nsSelector != nil {
		fmt.Fprintf(b, "\x00ns:%s", t.nsSelector)
	}
}

// intern returns the term equal to t (same topology key and selected pods) compiled before in
// this Solve call, or records and returns t.
func (topo *topology) intern(t *podTerm) *podTerm {
	var b strings.Builder
	b.WriteString(t.topologyKey)
	b.WriteByte(0)
	t.writeID(&b)
	id := b.String()
	if prev, ok := topo.terms[id]; ok {
		return prev
	}
	topo.terms[id] = t
	t.id = len(topo.terms)
	return t
}

// internHost replaces ht's terms by their interned equals.
func (topo *topology) internHost(ht *hostTerms) {
	for _, ts := range [][]*podTerm{ht.affinity, ht.antiAffinity} {
		for i := range ts {
			ts[i] = topo.intern(ts[i])
		}
	}
	for i := range ht.spread {
		ht.spread[i].term = topo.intern(ht.spread[i].term)
	}
}

// compilePodTerm compiles term of owner. matchLabelKeys and mismatchLabelKeys take their values
// from the owner's labels (KEP-3633). Errors: an invalid label selector, with its field path.
func compilePodTerm(owner *corev1.Pod, term *corev1.PodAffinityTerm, path string) (*podTerm, error) {
	sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
	if err != nil {
		return nil, fmt.Errorf("%s.labelSelector: %w", path, err)
	}
	if term.LabelSelector == nil {
		sel = labels.Nothing()
	} else {
		keyed := []struct {
			keys  []string
			op    selection.Operator
			field string
		}{{term.MatchLabelKeys, selection.In, "matchLabelKeys"}, {term.MismatchLabelKeys, selection.NotIn, "mismatchLabelKeys"}}
		for _, k := range keyed {
			for _, key := range k.keys {
				v, ok := owner.Labels[key]
				if !ok {
					continue
				}
				r, err := labels.NewRequirement(key, k.op, []string{v})
				if err != nil {
					return nil, fmt.Errorf("%s.%s: %w", path, k.field, err)
				}
				sel = sel.Add(*r)
			}
		}
	}
	pt := &podTerm{selector: sel, topologyKey: term.TopologyKey, namespaces: sets.New(term.Namespaces...)}
	switch {
	case term.NamespaceSelector != nil && len(term.NamespaceSelector.MatchLabels) == 0 && len(term.NamespaceSelector.MatchExpressions) == 0:
		pt.allNamespaces = true // an empty namespaceSelector selects every namespace
	case term.NamespaceSelector != nil:
		if pt.nsSelector, err = metav1.LabelSelectorAsSelector(term.NamespaceSelector); err != nil {
			return nil, fmt.Errorf("%s.namespaceSelector: %w", path, err)
		}
	case len(term.Namespaces) == 0:
		pt.namespaces = sets.New(owner.Namespace) // neither set: the owner's namespace
	}
	return pt, nil
}

// termSelection caches selectedBy for one pod, by podTerm.id - 1: entry i is unknown while its
// term is nil. The term is kept so that a term interned by another topology (a repacking's)
// with the same id is not mistaken for it.
type termSelection struct {
	byID []selectedEntry
}

type selectedEntry struct {
	term     *podTerm
	selected bool
}

// selectedBy reports whether t selects pi's pod (nsLabels: its namespace's labels), remembered
// per interned term: the pods on many planned nodes carry the same few terms.
func (pi *podInfo) selectedBy(t *podTerm, nsLabels map[string]string) bool {
	if t.id == 0 {
		return t.matches(pi.pod, nsLabels)
	}
	if pi.selected == nil {
		pi.selected = &termSelection{}
	}
	s := pi.selected
	i := t.id - 1
	if i < len(s.byID) && s.byID[i].term == t {
		return s.byID[i].selected
	}
	if i >= len(s.byID) {
		s.byID = growTo(s.byID, i+1)
	}
	v := t.matches(pi.pod, nsLabels)
	s.byID[i] = selectedEntry{term: t, selected: v}
	return v
}

// growTo returns s extended with zero values to length n (at least len(s)), its capacity at
// least doubled when it must grow, and at least 8.
func growTo[T any](s []T, n int) []T {
	if n <= cap(s) {
		return s[:n] // the elements past len(s) are zero: s never shrinks
	}
	out := make([]T, n, max(n, 2*cap(s), 8))
	copy(out, s)
	return out
}

// hostTerms are a pod's required pod affinity and anti-affinity terms with topologyKey
// kubernetes.io/hostname.
type hostTerms struct {
	affinity     []*podTerm
	antiAffinity []*podTerm
	spread       []hostSpread
}

// hostSpread is a DoNotSchedule topology spread constraint on kubernetes.io/hostname.
type hostSpread struct {
	term    *podTerm // the pods it counts: its selector in the pod's namespace
	maxSkew int
	self    int // 1 when the pod matches its own selector
}

// compileHostSpread returns p's DoNotSchedule spread constraints on kubernetes.io/hostname.
// matchLabelKeys take their values from p's labels. Errors name the field path.
func compileHostSpread(p *corev1.Pod) ([]hostSpread, error) {
	var out []hostSpread
	for i := range p.Spec.TopologySpreadConstraints {
		c := &p.Spec.TopologySpreadConstraints[i]
		if c.TopologyKey != corev1.LabelHostname || c.WhenUnsatisfiable != corev1.DoNotSchedule {
			continue
		}
		term, err := compileSpreadTerm(p, i)
		if err != nil {
			return nil, err
		}
		hs := hostSpread{term: term, maxSkew: int(c.MaxSkew)}
		if term.matches(p, nil) {
			hs.self = 1
		}
		out = append(out, hs)
	}
	return out, nil
}

// compileSpreadTerm checks p's topology spread constraint i and compiles the pods it counts:
// its selector (matchLabelKeys valued from p's labels) in p's namespace. Errors name the field
// path (maxSkew below 1, an invalid selector).
func compileSpreadTerm(p *corev1.Pod, i int) (*podTerm, error) {
	c := &p.Spec.TopologySpreadConstraints[i]
	path := fmt.Sprintf("spec.topologySpreadConstraints[%d]", i)
	if c.MaxSkew < 1 {
		return nil, fmt.Errorf("%s.maxSkew: %d must be at least 1", path, c.MaxSkew)
	}
	return compilePodTerm(p, &corev1.PodAffinityTerm{LabelSelector: c.LabelSelector, MatchLabelKeys: c.MatchLabelKeys,
		TopologyKey: c.TopologyKey}, path)
}

// compileHostTerms returns p's required hostname-scoped terms. Errors name the field path.
func compileHostTerms(p *corev1.Pod) (hostTerms, error) {
	var out hostTerms
	var err error
	if out.spread, err = compileHostSpread(p); err != nil {
		return out, err
	}
	aff := p.Spec.Affinity
	if aff == nil {
		return out, nil
	}
	if aff.PodAffinity != nil {
		out.affinity, err = compileHostnameTerms(p, aff.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
			"spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution")
		if err != nil {
			return out, err
		}
	}
	if aff.PodAntiAffinity != nil {
		out.antiAffinity, err = compileHostnameTerms(p, aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
			"spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution")
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// compileHostnameTerms compiles the terms with topologyKey kubernetes.io/hostname; path is the
// field path of terms, for errors.
func compileHostnameTerms(p *corev1.Pod, terms []corev1.PodAffinityTerm, path string) ([]*podTerm, error) {
	var out []*podTerm
	for i := range terms {
		if terms[i].TopologyKey != corev1.LabelHostname {
			continue
		}
		pt, err := compilePodTerm(p, &terms[i], fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, pt)
	}
	return out, nil
}

// hostPort is one host port a container asks for; IP "" means every address (0.0.0.0).
type hostPort struct {
	ip       string
	protocol corev1.Protocol
	port     int32
}

// podHostPorts returns the host ports kube-scheduler's NodePorts filter counts for p
// (k8s.io/kubernetes pkg/scheduler/util.GetHostPorts, v1.37): those of the containers and of the
// restartable init containers (sidecars, restartPolicy Always), which run as long as the pod;
// a regular init container has exited before the containers start, so its ports are not
// counted. An empty host IP is 0.0.0.0, which conflicts with every address; any other address
// ("::" included, as kube-scheduler reads it) conflicts only with itself and 0.0.0.0.
func podHostPorts(p *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(cs []corev1.Container, sidecarsOnly bool) {
		for _, c := range cs {
			if sidecarsOnly && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways) {
				continue
			}
			for _, cp := range c.Ports {
				if cp.HostPort <= 0 {
					continue
				}
				proto := cp.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				ip := cp.HostIP
				if ip == "0.0.0.0" {
					ip = ""
				}
				out = append(out, hostPort{ip: ip, protocol: proto, port: cp.HostPort})
			}
		}
	}
	add(p.Spec.InitContainers, true)
	add(p.Spec.Containers, false)
	return out
}

// conflicts reports whether two host ports cannot be bound on one node: same protocol and port,
// and the same address or either one every address (kube-scheduler's NodePorts filter).
func (a hostPort) conflicts(b hostPort) bool {
	return a.protocol == b.protocol && a.port == b.port && (a.ip == "" || b.ip == "" || a.ip == b.ip)
}

// hostPod is a pod on (or planned for) a node, with what other pods must respect.
type hostPod struct {
	pod  *corev1.Pod
	anti []*podTerm // its required hostname anti-affinity terms
	// spread are its DoNotSchedule hostname spread constraints while it is only planned:
	// kube-scheduler may bind it after the pods planned with it, so they must leave its
	// constraint met (see admits). Nil for a bound pod.
	spread []hostSpread
	ports  []hostPort
}

// sameConstraints reports whether hp and o constrain other pods through the same terms and
// ports: the same slices, as identical pods share them (checked one after the other, pods
// of one group on a node usually are).
func (hp *hostPod) sameConstraints(o *hostPod) bool {
	return sameSlice(hp.anti, o.anti) && sameSlice(hp.spread, o.spread) && sameSlice(hp.ports, o.ports)
}

// sameSlice reports whether a and b are the same elements of one backing array.
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// host is the set of pods on one node, existing or planned, for the hostname-scoped checks.
// The zero value is an empty node.
type host struct {
	pods []hostPod
	// constrained are the indexes of the pods with anti-affinity terms, hostname spread or host
	// ports: only those can refuse an incoming pod.
	constrained []int
	// counts caches countMatches per interned term, by podTerm.id - 1 (terms of identical pods
	// are shared, so a group asks about the same term again and again); an entry is unknown
	// while its term is nil. add and removeLast keep the known entries up to date. nsLabels is
	// the namespace labels the counts were made with.
	counts   []hostCount
	nsLabels map[string]map[string]string
	// terminating counts the pods being deleted: topology spread does not count them
	// (countSpread), the other checks do.
	terminating int
}

func (h *host) add(p *corev1.Pod, anti []*podTerm, spread []hostSpread, ports []hostPort) {
	h.pods = append(h.pods, hostPod{pod: p, anti: anti, spread: spread, ports: ports})
	if p.DeletionTimestamp != nil {
		h.terminating++
	}
	if len(anti) > 0 || len(spread) > 0 || len(ports) > 0 {
		h.constrained = append(h.constrained, len(h.pods)-1)
	}
	for i := range h.counts {
		if c := &h.counts[i]; c.term != nil && c.term.matches(p, h.nsLabels[p.Namespace]) {
			c.n++
		}
	}
}

// removeLast undoes the last add.
func (h *host) removeLast() {
	last := len(h.pods) - 1
	p := h.pods[last].pod
	h.pods = h.pods[:last]
	if p.DeletionTimestamp != nil {
		h.terminating--
	}
	if n := len(h.constrained); n > 0 && h.constrained[n-1] == last {
		h.constrained = h.constrained[:n-1]
	}
	for i := range h.counts {
		if c := &h.counts[i]; c.term != nil && c.term.matches(p, h.nsLabels[p.Namespace]) {
			c.n--
		}
	}
}

// hasMatch reports whether a pod on the host is selected by t.
func (h *host) hasMatch(t *podTerm, nsLabels map[string]map[string]string) bool {
	return h.countMatches(t, nsLabels) > 0
}

// countMatches counts the pods on the host selected by t.
func (h *host) countMatches(t *podTerm, nsLabels map[string]map[string]string) int {
	i := t.id - 1
	if i >= 0 && i < len(h.counts) && h.counts[i].term == t {
		return h.counts[i].n
	}
	n := 0
	for i := range h.pods {
		if t.matches(h.pods[i].pod, nsLabels[h.pods[i].pod.Namespace]) {
			n++
		}
	}
	if i < 0 || (i < len(h.counts) && h.counts[i].term != nil) {
		return n // not interned, or another topology's term with t's id: not cached
	}
	if i >= len(h.counts) {
		h.counts = growTo(h.counts, i+1)
	}
	if h.nsLabels == nil {
		h.nsLabels = nsLabels
	}
	h.counts[i] = hostCount{term: t, n: n}
	return n
}

// hostCount is a cached count of the pods on a host one term selects.
type hostCount struct {
	term *podTerm
	n    int
}

// countSpread counts the pods on the host selected by t that topology spread counts: as
// kube-scheduler's PodTopologySpread, not those being deleted (a rollout's old pods).
func (h *host) countSpread(t *podTerm, nsLabels map[string]map[string]string) int {
	n := h.countMatches(t, nsLabels)
	if h.terminating == 0 {
		return n
	}
	for i := range h.pods {
		if p := h.pods[i].pod; p.DeletionTimestamp != nil && t.matches(p, nsLabels[p.Namespace]) {
			n--
		}
	}
	return n
}

// admits returns "" when pi may join the pods on the host, else the constraint it breaks.
// pinned reports, per affinity term of pi, whether some pod anywhere already matches it (a term
// no pod matches is waived when pi matches it itself).
func (h *host) admits(pi *podInfo, nsLabels map[string]map[string]string, pinned []bool) string {
	if len(h.constrained) > 0 {
		own := nsLabels[pi.pod.Namespace]
		var prev *hostPod
		for _, i := range h.constrained {
			other := &h.pods[i]
			if prev != nil && other.sameConstraints(prev) {
				continue // refuses pi exactly when prev does, and prev did not
			}
			prev = other
			for _, a := range pi.ports {
				for _, b := range other.ports {
					if a.conflicts(b) {
						return "a host port it binds is taken on the node"
					}
				}
			}
			for _, t := range other.anti {
				if pi.selectedBy(t, own) {
					return "a pod on the node has required anti-affinity against it"
				}
			}
			for _, c := range other.spread {
				if pi.selectedBy(c.term, own) && h.countSpread(c.term, nsLabels)+1 > c.maxSkew {
					return "a pod planned on the node has topology spread (kubernetes.io/hostname) it would break"
				}
			}
		}
	}
	for _, t := range pi.host.antiAffinity {
		if h.hasMatch(t, nsLabels) {
			return "required pod anti-affinity (kubernetes.io/hostname) matches a pod on the node"
		}
	}
	for _, c := range pi.host.spread {
		if n := h.countSpread(c.term, nsLabels); n+c.self > c.maxSkew {
			return "topology spread (kubernetes.io/hostname): maxSkew matching pods on the node already"
		}
	}
	for i, t := range pi.host.affinity {
		if !pinned[i] {
			continue
		}
		if !h.hasMatch(t, nsLabels) {
			return "required pod affinity (kubernetes.io/hostname) matches no pod on the node"
		}
	}
	return ""
}
