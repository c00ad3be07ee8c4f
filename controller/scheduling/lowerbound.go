package scheduling

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// LowerBound returns a lower bound, in USD/hour, on the summed price of the new nodes that any
// plan placing the pods of in must launch. It is what a plan's cost is measured against
// ("cost / lower bound" in `make bench`); docs/guides/lower-bound.md derives it.
//
// The model is the solver's: a pod may use an instance type of a provisioner whose taints it
// tolerates, whose requirements and labels admit one of its node affinity terms, that has an
// available offering allowed by both, and whose usable room (allocatable minus the requests of
// the daemonsets that would run on the node) holds its requests; a node's price is the cheapest
// such offering. Nothing else is assumed about plans: a plain pod may land on a GPU type, and
// pods may share nodes however their resources allow.
//
// Left out: pods no instance type of any provisioner can hold, and pods the solver rejects
// (invalid node affinity, pod affinity or topology spread). Not modelled, so a plan restricted
// by them can only cost more: zonal topology, host ports, provisioner limits. A plan that leaves
// placeable pods pending (provisioner limits, launch backoffs in Input.Holds) is not a plan for
// every pod, and may cost less than the bound.
//
// Existing and in-flight nodes (Input.Nodes) cost nothing and may hold the pods that tolerate
// their taints and whose terms match their labels: their free room (ExistingNode.Available,
// summed) is subtracted from the demand the new nodes must cover, in total and per group of pods
// that may use the same nodes (existingGroupRows), and a pod that fits the free room of one of
// the nodes it may use is not counted as needing a new node of its own.
//
// Within each set of pods whose eligible instance types are connected (usually one set; pods
// of disjoint provisioners or types form separate sets, whose bounds add up), the bound is the
// largest of:
//
//  1. The cheapest fractional cover: min Σ price(t)·x(t) over x ≥ 0 such that, for every
//     resource r the pods request (cpu, memory, pods, nvidia.com/gpu, ...), Σ usable_r(t)·x(t)
//     is at least the pods' total request of r minus the existing free room, and Σ x(t) ≥ K,
//     the number of nodes forced by item 3, summed over the types t that hold the smallest
//     request of each resource among the forcing group's pods (each forced node holds one of
//     them); and threshold rows (coverConstraints): the pods
//     requesting at least v of a resource fit only the types with that much usable, so those
//     types alone must cover those pods' requests. In every row a type supplies its room only
//     when it holds at least one of the pods the row counts (coverConstraint.pods, holders): a
//     plan's nodes that hold none of them add nothing to the row, and an empty node is never in
//     a cheapest plan. Any plan's nodes are a feasible integer x, so the
//     linear programme's optimum is at most any plan's cost. It is solved exactly with the
//     simplex method on its dual (a price per unit of each resource, no type priced below its
//     capacity's worth); the dual vector returned is scaled down until it is exactly feasible,
//     so the bound holds whatever the rounding.
//  2. The most expensive pod alone: the cheapest type it fits.
//  3. Groups of pods of which one node holds at most s: pods with a required hostname
//     anti-affinity term that matches themselves and each other (s = 1), pods with a
//     DoNotSchedule hostname topology spread whose selector matches themselves (s = maxSkew,
//     the solver's reading: a node takes such a pod only while its matching pods stay within
//     maxSkew, as kube-scheduler does when any eligible node has none, and as Karpenter does
//     by counting a new node as an empty domain), and pods larger than 1/(s+1) of the largest
//     usable amount of some resource among the set's types (s = 1, 2, 3). Such a group of k
//     pods needs ⌈k/s⌉ nodes; with the pods' cheapest fitting prices c1 ≥ c2 ≥ ..., those
//     nodes cost at least c1 + c(s+1) + c(2s+1) + ... (the i-th dearest node holds a pod at
//     least as dear as c((i-1)s+1)).
//  4. Identical pods (one signature, equal requests, no existing room): n pods cost at least
//     n times the least price per pod any type offers, a node of type t holding
//     min over resources of ⌊usable/request⌋ of them.
//  5. The configuration bound (no existing room, at most configMaxClasses classes of pods, after
//     dropping every item-3 group but the one of most pods when there are more):
//     the linear programme over whole-node fillings, each a type holding a number of pods of
//     each class (same signature, requests and item-3 groups) within its usable room and at
//     most s pods of each group, priced at the type's price; solved by column generation and
//     certified by Farley's bound (lowerbound_config.go). Unlike 1 it counts that pods are
//     indivisible: the room beside the pods a node holds is bought but holds nothing.
//
// The result is the sum over the sets, or, where larger, the bound of one price class of the
// pods alone (classBounds): 1 and 5 price a type at the cheapest offering any of the set's pods
// may use, which a class of pods restricted to dearer offerings (on-demand) cannot.
//
// Shapes: prices are USD/hour, as cloudprovider.Offering.Price; the result is 0 when no pod
// needs a new node. It is deterministic for a given input and never panics on bad pods (they
// are left out, as the solver reports them).
func LowerBound(in Input) float64 {
	lb := newBoundInput(in)
	return max(lb.bound(), lb.classBounds())
}

// bound sums the components' bounds (componentBound).
func (b *boundInput) bound() float64 {
	total := 0.0
	for _, comp := range b.components() {
		total += b.componentBound(comp)
	}
	return total
}

// boundClassesMax is the most price classes classBounds bounds alone (those of the largest
// demand priced at the class's cheapest rates).
const boundClassesMax = 8

// classBounds is the largest bound of a price class of the pods alone, 0 when there is one
// class. A price class is the pods whose signatures price every item alike (the pods that
// require on-demand, say, beside those that accept spot). The bounds 1 and 5 price each item at
// the cheapest offering any of the component's signatures allows, so pods that may use only
// dearer offerings of the same types are priced as if they could use the cheaper: adding
// spot-eligible pods could lower the bound of on-demand pods. The nodes of any plan that hold a
// pod of a class are a plan for that class alone (the other pods taken off leave room only), so
// each class's bound is a bound for the whole: pods of other classes added beside a class never
// lower the bound below that class's own while it ranks among the boundClassesMax bounded.
// (Pods added within a class can still lower it a little: the rows that count only the types
// holding one of their pods admit more types, and the configuration bound's certificate
// (Farley's) depends on how its column generation ends.)
func (b *boundInput) classBounds() float64 {
	if len(b.sigMin) < 2 {
		return 0
	}
	classOf := map[string]int{}
	var classes []map[int]bool
	sigClass := map[int]int{}
	for sig := range b.sigs {
		if _, placeable := b.sigMin[sig]; !placeable {
			continue
		}
		var sb strings.Builder
		for _, c := range b.sigs[sig] {
			fmt.Fprintf(&sb, "%d:%x,", c.item, math.Float64bits(c.price))
		}
		k := sb.String()
		i, seen := classOf[k]
		if !seen {
			i = len(classes)
			classOf[k] = i
			classes = append(classes, map[int]bool{})
		}
		classes[i][sig] = true
		sigClass[sig] = i
	}
	if len(classes) < 2 {
		return 0
	}
	estimate := make([]float64, len(classes))
	// Each class's demand, priced at its cheapest rate per unit of each resource (USD/hour per
	// unit over the items it may use): the largest is a bound on the class's cover, and ranks the
	// classes, so that a class of a few small pods does not push out one of dear pods.
	demand := make([]Resources, len(classes))
	for i := range demand {
		demand[i] = Resources{}
	}
	for _, p := range b.pods {
		demand[sigClass[p.sig]].AddInPlace(p.requests)
	}
	for i, sigs := range classes {
		rate := map[corev1.ResourceName]float64{}
		for sig := range sigs {
			for _, c := range b.sigs[sig] {
				u := b.items[c.item].usable
				for k := range demand[i] {
					if u[k] > 0 {
						if r, ok := rate[k]; !ok || c.price/float64(u[k]) < r {
							rate[k] = c.price / float64(u[k])
						}
					}
				}
			}
		}
		for k, v := range demand[i] {
			estimate[i] = max(estimate[i], float64(v)*rate[k])
		}
	}
	order := make([]int, len(classes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return estimate[order[i]] > estimate[order[j]] })
	best := 0.0
	for _, i := range order[:min(len(order), boundClassesMax)] {
		best = max(best, b.subset(classes[i]).bound())
	}
	return best
}

// subset returns the bound's input for the pods of the signatures sigs alone: the same items,
// priced and joined by those signatures only, and the same existing nodes.
func (b *boundInput) subset(sigs map[int]bool) *boundInput {
	sub := *b
	sub.pods = nil
	for _, p := range b.pods {
		if sigs[p.sig] {
			sub.pods = append(sub.pods, p)
		}
	}
	sub.sigMin = map[int]Resources{}
	for sig := range sigs {
		sub.sigMin[sig] = b.sigMin[sig]
	}
	sub.items = make([]lbItem, len(b.items))
	for i, it := range b.items {
		sub.items[i] = lbItem{usable: it.usable}
	}
	sub.parent = make([]int, len(b.items))
	for i := range sub.parent {
		sub.parent[i] = i
	}
	sub.candSets = nil
	sub.joinItems()
	return &sub
}

// lbItem is one instance type of one provisioner, as a node the bound may buy.
type lbItem struct {
	usable Resources
	price  float64 // cheapest offering any signature of its component allows (USD/hour)
	used   bool    // eligible for some placeable pod
}

// lbCand is an item a signature may use, at the price its requirements allow.
type lbCand struct {
	item  int
	price float64
}

// lbPod is a placeable pod with the cheapest item it fits.
type lbPod struct {
	pod      *corev1.Pod
	requests Resources
	host     hostTerms
	sig      int
	cheapest float64
	firstFit int  // the cheapest item it fits, for its component
	newOnly  bool // fits no existing node's free room
}

type boundInput struct {
	in    Input
	items []lbItem
	// sigs are the candidate items of each scheduling signature (node requirements and
	// tolerations), cheapest first.
	sigs [][]lbCand
	pods []*lbPod
	// sigMin is, per signature, the least request of each resource over its placeable pods.
	sigMin   map[int]Resources
	freeRoom Resources
	// freeRooms are the existing nodes' free rooms, one per node.
	freeRooms []Resources
	// sigNodes are, per signature, the existing nodes its pods may use (taints tolerated, labels
	// matching one of its terms), by index into freeRooms; sigFree their summed free room.
	sigNodes [][]int
	sigFree  []Resources
	// sigFrontier are, per signature, the free rooms of its usable nodes no other contains.
	sigFrontier [][]Resources
	parent      []int // union-find over items
	// candSets caches, per signature, its candidate items as a set (candidateSet).
	candSets map[int]map[int]bool
}

func newBoundInput(in Input) *boundInput {
	in.Nodes = normalizeNodes(in.Nodes) // as Solve reads them
	b := &boundInput{in: in, freeRoom: Resources{}, sigMin: map[int]Resources{}}
	dss := compileDaemonSets(in.DaemonSets)
	var provs []*provState
	var firstItem []int
	for _, p := range in.Provisioners {
		if p.Provisioner == nil {
			continue
		}
		ps := newProvState(p, dss)
		if ps.typeErr != "" {
			continue
		}
		provs = append(provs, ps)
		firstItem = append(firstItem, len(b.items))
		for _, t := range ps.types {
			b.items = append(b.items, lbItem{usable: boundUsable(ps, t, dss)})
		}
	}
	b.parent = make([]int, len(b.items))
	for i := range b.parent {
		b.parent[i] = i
	}
	b.existingRooms()
	sigIndex := map[string]int{}
	for _, p := range in.Pods {
		b.addPod(p, provs, firstItem, sigIndex)
	}
	b.joinItems()
	return b
}

// joinItems marks the items each signature's pods may use (those that hold its least request,
// a superset of those that hold one of its pods) as used, at the signature's price where that
// is lower, and joins them into one component.
func (b *boundInput) joinItems() {
	for sig, least := range b.sigMin {
		first := -1
		for _, c := range b.sigs[sig] {
			it := &b.items[c.item]
			if !least.Fits(it.usable) {
				continue
			}
			if !it.used || c.price < it.price {
				it.price = c.price
			}
			it.used = true
			if first < 0 {
				first = c.item
			}
			b.union(first, c.item)
		}
	}
}

// boundUsable is the type's usable room for the bound: the solver's (daemonsets matched against
// the provisioner's and type's labels) or, where larger, the room a node of one of the type's
// offerings has (daemonsets matched with its zone and capacity type as well), so the bound holds
// under either reading of a daemonset's node affinity.
func boundUsable(ps *provState, t *typeInfo, dss compiledDaemonSets) Resources {
	out := t.usable.Copy()
	if len(dss) == 0 {
		return out
	}
	alloc := FromList(t.it.Allocatable())
	base := ps.template.SingleValueLabels()
	for k, v := range t.it.Labels {
		base[k] = v
	}
	for _, o := range t.it.Offerings {
		if !o.Available {
			continue
		}
		labels := make(map[string]string, len(base)+2)
		for k, v := range base {
			labels[k] = v
		}
		labels[v1alpha5.LabelZone], labels[v1alpha5.LabelCapacityType] = o.Zone, o.CapacityType
		out.MaxInPlace(alloc.Sub(dss.overhead(labels, ps.taints)))
	}
	return out
}

// existingRooms records the existing nodes' free rooms in b.freeRooms and their sum in
// b.freeRoom.
func (b *boundInput) existingRooms() {
	for _, n := range b.in.Nodes {
		avail := FromList(n.Available)
		b.freeRoom.AddInPlace(avail)
		b.freeRooms = append(b.freeRooms, avail)
	}
}

// usableNodes returns the existing nodes a pod with terms and tolerations may use (as the
// solver places pods on them: taints tolerated, labels matching one of the terms), by index
// into b.freeRooms, with their summed free room, and the free rooms no other of them contains
// (a pod fits one of the nodes iff it fits one of these).
func (b *boundInput) usableNodes(terms []Requirements, tolerations []corev1.Toleration) (nodes []int, free Resources, frontier []Resources) {
	free = Resources{}
	for i := range b.in.Nodes {
		n := &b.in.Nodes[i]
		if Tolerates(tolerations, n.Taints) != nil {
			continue
		}
		if !slices.ContainsFunc(terms, func(t Requirements) bool { return t.MatchLabels(n.Labels) == nil }) {
			continue
		}
		avail := b.freeRooms[i]
		nodes = append(nodes, i)
		free.AddInPlace(avail)
		dominated := false
		kept := frontier[:0]
		for _, f := range frontier {
			if !dominated && avail.Fits(f) {
				dominated = true
			}
			if dominated || !f.Fits(avail) {
				kept = append(kept, f)
			}
		}
		frontier = kept
		if !dominated {
			frontier = append(frontier, avail)
		}
	}
	return nodes, free, frontier
}

// addPod compiles p; pods the solver rejects and pods no item holds are left out.
func (b *boundInput) addPod(p *corev1.Pod, provs []*provState, firstItem []int, sigIndex map[string]int) {
	terms, err := PodRequirementTerms(p)
	if err != nil {
		return
	}
	host, err := compileHostTerms(p)
	if err != nil {
		return
	}
	key := signatureKey(terms, p.Spec.Tolerations)
	sig, ok := sigIndex[key]
	if !ok {
		sig = len(b.sigs)
		sigIndex[key] = sig
		b.sigs = append(b.sigs, b.candidates(terms, p.Spec.Tolerations, provs, firstItem))
		nodes, free, frontier := b.usableNodes(terms, p.Spec.Tolerations)
		b.sigNodes, b.sigFree, b.sigFrontier = append(b.sigNodes, nodes), append(b.sigFree, free), append(b.sigFrontier, frontier)
	}
	lp := &lbPod{pod: p, requests: PodRequests(p), host: host, sig: sig, newOnly: true, firstFit: -1}
	for _, c := range b.sigs[sig] {
		if lp.requests.Fits(b.items[c.item].usable) {
			lp.cheapest, lp.firstFit = c.price, c.item
			break
		}
	}
	if lp.firstFit < 0 {
		return
	}
	for _, f := range b.sigFrontier[sig] {
		if lp.requests.Fits(f) {
			lp.newOnly = false
			break
		}
	}
	if m, seen := b.sigMin[sig]; seen {
		for k, v := range m {
			m[k] = min(v, lp.requests[k])
		}
	} else {
		b.sigMin[sig] = lp.requests.Copy()
	}
	b.pods = append(b.pods, lp)
}

// signatureKey identifies what decides where a pod may go: its node requirement terms and its
// tolerations.
func signatureKey(terms []Requirements, tolerations []corev1.Toleration) string {
	var sb strings.Builder
	for _, t := range terms {
		sb.WriteString(t.String())
		sb.WriteString("|")
	}
	for _, t := range tolerations {
		fmt.Fprintf(&sb, "%s/%s/%s/%s;", t.Key, t.Operator, t.Value, t.Effect)
	}
	return sb.String()
}

// candidates returns the items a pod with terms and tolerations may use, each at the cheapest
// available offering its provisioner's requirements and one of its terms allow, cheapest first.
func (b *boundInput) candidates(terms []Requirements, tolerations []corev1.Toleration, provs []*provState, firstItem []int) []lbCand {
	best := map[int]float64{}
	for pi, ps := range provs {
		if Tolerates(tolerations, ps.taints) != nil {
			continue
		}
		for _, term := range terms {
			reqs, err := ps.template.Constrain(term)
			if err != nil {
				continue
			}
			for ti, t := range ps.types {
				if !labelsAdmit(ps, reqs, term, t) {
					continue
				}
				price, ok := cheapestOffering(t.it, reqs)
				if !ok {
					continue
				}
				item := firstItem[pi] + ti
				if cur, seen := best[item]; !seen || price < cur {
					best[item] = price
				}
			}
		}
	}
	out := make([]lbCand, 0, len(best))
	for item, price := range best {
		out = append(out, lbCand{item: item, price: price})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].price != out[j].price {
			return out[i].price < out[j].price
		}
		return out[i].item < out[j].item
	})
	return out
}

// labelsAdmit reports whether the type's labels satisfy reqs on the instance-level keys the
// term constrains (the provisioner's own requirements were checked when its types were listed).
func labelsAdmit(ps *provState, reqs, term Requirements, t *typeInfo) bool {
	for k := range term {
		if !ps.isTypeKey[k] {
			continue
		}
		v, present := t.it.Labels[k]
		if r := reqs[k]; r != nil && !r.Matches(v, present) {
			return false
		}
	}
	return true
}

func (b *boundInput) find(i int) int {
	for b.parent[i] != i {
		b.parent[i] = b.parent[b.parent[i]]
		i = b.parent[i]
	}
	return i
}

func (b *boundInput) union(i, j int) {
	if ri, rj := b.find(i), b.find(j); ri != rj {
		b.parent[max(ri, rj)] = min(ri, rj)
	}
}

// lbComponent is a set of pods and the items they may use; no pod outside it may use its items.
type lbComponent struct {
	pods  []*lbPod
	items []int
}

// components splits the pods by the connected sets of items they may use, in item order.
func (b *boundInput) components() []*lbComponent {
	byRoot := map[int]*lbComponent{}
	var out []*lbComponent
	for i, it := range b.items {
		if !it.used {
			continue
		}
		r := b.find(i)
		c := byRoot[r]
		if c == nil {
			c = &lbComponent{}
			byRoot[r] = c
			out = append(out, c)
		}
		c.items = append(c.items, i)
	}
	for _, p := range b.pods {
		c := byRoot[b.find(p.firstFit)]
		c.pods = append(c.pods, p)
	}
	return out
}

// componentBound is the largest of the bounds 1-5 of LowerBound for one component.
func (b *boundInput) componentBound(c *lbComponent) float64 {
	if len(c.pods) == 0 {
		return 0
	}
	best, nodes := 0.0, 0
	var least Resources
	for _, g := range b.groups(c) {
		cost, n := chunkCost(g.prices, g.perNode)
		best = max(best, cost)
		if n > nodes {
			nodes, least = n, g.least
		}
	}
	for _, p := range c.pods {
		if p.newOnly {
			best = max(best, p.cheapest)
		}
	}
	return max(best, b.coverLP(c, nodes, least), b.identicalBound(c), b.configurationBound(c))
}

// identicalBound is bound 4: when every pod of the component is identical (one signature, the
// same requests) and there is no existing free room, a node of type t holds at most
// perNode(t) = min over resources of ⌊usable/request⌋ of them, so n pods cost at least
// n · min over t of price(t)/perNode(t) (the linear relaxation of Σ perNode·x ≥ n). Unlike the
// fractional cover it counts the room no whole pod can use. 0 when it does not apply.
func (b *boundInput) identicalBound(c *lbComponent) float64 {
	if len(b.in.Nodes) > 0 || len(c.pods) == 0 {
		return 0
	}
	first := c.pods[0]
	for _, p := range c.pods[1:] {
		if p.sig != first.sig || !sameResources(p.requests, first.requests) {
			return 0
		}
	}
	perPod := math.Inf(1)
	for _, cand := range b.sigs[first.sig] {
		u := b.items[cand.item].usable
		perNode := int64(math.MaxInt64)
		for k, v := range first.requests {
			if v > 0 {
				perNode = min(perNode, u[k]/v)
			}
		}
		if perNode >= 1 {
			perPod = min(perPod, cand.price/float64(perNode))
		}
	}
	if math.IsInf(perPod, 1) {
		return 0
	}
	return float64(len(c.pods)) * perPod
}

// sameResources reports whether a and b request the same amounts (absent counts as 0).
func sameResources(a, b Resources) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// lbGroup is a group of pods of which one node holds at most perNode; prices are the cheapest
// fitting price of each of its pods that needs a new node, and least the smallest request of
// each resource among those pods (every node the group forces holds one of them, so its type
// holds least).
type lbGroup struct {
	perNode int
	prices  []float64
	least   Resources
}

// add counts p, a pod of the group that needs a new node.
func (g *lbGroup) add(p *lbPod) {
	if len(g.prices) == 0 {
		g.least = p.requests.Copy()
	} else {
		g.least.MinInPlace(p.requests)
	}
	g.prices = append(g.prices, p.cheapest)
}

// groups returns the anti-affinity, spread and size groups of the component (bound 3).
func (b *boundInput) groups(c *lbComponent) []lbGroup {
	type keyed struct {
		key     string
		perNode int
	}
	byKey := map[keyed]*lbGroup{}
	var order []keyed
	add := func(k keyed, p *lbPod) {
		g := byKey[k]
		if g == nil {
			g = &lbGroup{perNode: k.perNode}
			byKey[k] = g
			order = append(order, k)
		}
		if p.newOnly {
			g.add(p)
		}
	}
	for _, p := range c.pods {
		own := b.in.NamespaceLabels[p.pod.Namespace]
		for _, t := range p.host.antiAffinity {
			if t.matches(p.pod, own) {
				add(keyed{"anti " + termKey(t), 1}, p)
			}
		}
		for _, s := range p.host.spread {
			if s.self == 1 {
				add(keyed{"spread " + termKey(s.term), s.maxSkew}, p)
			}
		}
	}
	out := make([]lbGroup, 0, len(order)+6)
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return append(out, b.sizeGroups(c)...)
}

// termKey identifies a compiled pod term by the pods it selects.
func termKey(t *podTerm) string {
	ns := "*"
	if !t.allNamespaces {
		ns = strings.Join(sets.List(t.namespaces), ",")
	}
	nsSel := ""
	if t.nsSelector != nil {
		nsSel = t.nsSelector.String()
	}
	return ns + "|" + nsSel + "|" + t.selector.String()
}

// sizeGroups returns, for each resource and s = 1, 2, 3, the pods requesting more than
// 1/(s+1) of the largest usable amount among the component's types: s+1 of them exceed any node.
func (b *boundInput) sizeGroups(c *lbComponent) []lbGroup {
	largest := Resources{}
	for _, i := range c.items {
		largest.MaxInPlace(b.items[i].usable)
	}
	names := make([]corev1.ResourceName, 0, len(largest))
	for k := range largest {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	var out []lbGroup
	for _, k := range names {
		for s := 1; s <= 3; s++ {
			g := lbGroup{perNode: s}
			for _, p := range c.pods {
				if p.newOnly && p.requests[k]*int64(s+1) > largest[k] {
					g.add(p)
				}
			}
			if len(g.prices) > s {
				out = append(out, g)
			}
		}
	}
	return out
}

// chunkCost returns the least cost of nodes holding pods with the given cheapest prices when a
// node holds at most perNode of them and costs at least the dearest it holds, and the number
// of nodes they need: prices sorted descending, the sum of every perNode-th from the first.
func chunkCost(prices []float64, perNode int) (float64, int) {
	if len(prices) == 0 || perNode < 1 {
		return 0, 0
	}
	sorted := append([]float64(nil), prices...)
	sort.Sort(sort.Reverse(sort.Float64Slice(sorted)))
	cost, nodes := 0.0, 0
	for i := 0; i < len(sorted); i += perNode {
		cost += sorted[i]
		nodes++
	}
	return cost, nodes
}

// nodesDimension is the pseudo-resource "new nodes" of the cover LP: every type supplies one.
const nodesDimension = corev1.ResourceName("nodes (lower bound)")

// coverLP is bound 1 for the component: the cheapest fractional cover of its pods' requests
// (less the existing free room) and of at least nodes nodes of types that hold least (the
// forcing group's smallest requests), with the threshold constraints (see coverConstraints).
func (b *boundInput) coverLP(c *lbComponent, nodes int, least Resources) float64 {
	cons := b.coverConstraints(c)
	if nodes > 0 {
		cons = append(cons, coverConstraint{dim: nodesDimension, need: float64(nodes)})
	}
	if len(cons) == 0 {
		return 0
	}
	holds := make([][]bool, len(cons))
	// Rows of one pod set (one slice: its backing array and length) share its holders.
	type setKey struct {
		first **lbPod
		n     int
	}
	bySet := map[setKey][]bool{}
	for d, k := range cons {
		if len(k.pods) == 0 {
			continue
		}
		key := setKey{&k.pods[0], len(k.pods)}
		h, ok := bySet[key]
		if !ok {
			h = b.holders(c, k.pods)
			bySet[key] = h
		}
		holds[d] = h
	}
	rows := make([][]float64, 0, len(c.items))
	prices := make([]float64, 0, len(c.items))
	for j, i := range c.items {
		it := b.items[i]
		row := make([]float64, len(cons))
		for d, k := range cons {
			switch {
			case k.dim == nodesDimension:
				if least.Fits(it.usable) {
					row[d] = 1 / k.need
				}
			case holds[d] != nil && !holds[d][j]:
				// No node of this type holds any pod of the row: in a plan it holds none of
				// them, and its room counts for nothing there.
			case k.above == "" || it.usable[k.above] >= k.least:
				row[d] = float64(it.usable[k.dim]) / k.need
			}
		}
		rows = append(rows, row)
		prices = append(prices, it.price)
	}
	return coverBound(rows, prices)
}

// holders returns, per item of c (by index into c.items), whether a node of it holds at least
// one of pods: the item is a candidate of the pod's signature and its usable room holds the
// pod's requests. Each signature's pods are reduced to their minimal requests first (a type
// that holds a pod holds every pod it dominates).
func (b *boundInput) holders(c *lbComponent, pods []*lbPod) []bool {
	mins := map[int][]Resources{}
	var sigs []int
	for _, p := range pods {
		ms, seen := mins[p.sig]
		if !seen {
			sigs = append(sigs, p.sig)
		}
		if slices.ContainsFunc(ms, func(m Resources) bool { return m.Fits(p.requests) }) {
			continue // a smaller pod of the signature stands for it
		}
		ms = slices.DeleteFunc(ms, func(m Resources) bool { return p.requests.Fits(m) })
		mins[p.sig] = append(ms, p.requests)
	}
	out := make([]bool, len(c.items))
	for _, sig := range sigs {
		cands := b.candidateSet(sig)
		for j, i := range c.items {
			if out[j] || !cands[i] {
				continue
			}
			u := b.items[i].usable
			out[j] = slices.ContainsFunc(mins[sig], func(m Resources) bool { return m.Fits(u) })
		}
	}
	return out
}

// candidateSet returns the items the signature's pods may use, as a set (cached).
func (b *boundInput) candidateSet(sig int) map[int]bool {
	if b.candSets == nil {
		b.candSets = map[int]map[int]bool{}
	}
	if set, ok := b.candSets[sig]; ok {
		return set
	}
	set := make(map[int]bool, len(b.sigs[sig]))
	for _, c := range b.sigs[sig] {
		set[c.item] = true
	}
	b.candSets[sig] = set
	return set
}

// coverConstraint is one row of the cover LP: the types count toward need units of dim (the
// pods' demand less the existing free room); with above set, only the types whose usable above
// is at least least count, and only the pods requesting at least least of above make the need.
type coverConstraint struct {
	dim   corev1.ResourceName
	above corev1.ResourceName
	least int64
	need  float64
	// pods are the pods whose demand the row counts (nil for the nodes row): only the types
	// that hold at least one of them supply it (holders).
	pods []*lbPod
}

// maxThresholds bounds the threshold values tried per resource (spread over the pods' distinct
// requests), so the LP stays small.
const maxThresholds = 12

// coverConstraints returns the cover LP's rows: for every requested resource r, the pods' total
// demand of r; and for every resource a and value v among the pods' requests of a, the demand
// of r of the pods requesting at least v of a, which only the types with at least v of a usable
// can meet (such a pod fits no other type, so the nodes holding these pods are of those types
// and their room of r holds these pods' requests of r), less the free room of the existing
// nodes with at least v of a free (no other existing node can hold them either). The latter count the room no pod can
// use that the plain cover buys: the cpu of a type with too little memory for any pod. Rows
// whose need is not positive, and threshold rows every type meets, are left out.
func (b *boundInput) coverConstraints(c *lbComponent) []coverConstraint {
	demand := Resources{}
	for _, p := range c.pods {
		demand.AddInPlace(p.requests)
	}
	var dims []corev1.ResourceName
	for k, v := range demand {
		if v-b.freeRoom[k] > 0 {
			dims = append(dims, k)
		}
	}
	slices.Sort(dims)
	var out []coverConstraint
	for _, k := range dims {
		out = append(out, coverConstraint{dim: k, need: float64(demand[k] - b.freeRoom[k]), pods: c.pods})
	}
	out = append(out, b.existingGroupRows(c)...)
	for _, a := range dims {
		for _, v := range b.thresholds(c, a) {
			sub := Resources{}
			var these []*lbPod
			for _, p := range c.pods {
				if p.requests[a] >= v {
					sub.AddInPlace(p.requests)
					these = append(these, p)
				}
			}
			// Only the existing nodes with v of a free can hold these pods.
			free := Resources{}
			for _, f := range b.freeRooms {
				if f[a] >= v {
					free.AddInPlace(f)
				}
			}
			for _, k := range dims {
				if need := sub[k] - free[k]; need > 0 {
					out = append(out, coverConstraint{dim: k, above: a, least: v, need: float64(need), pods: these})
				}
			}
		}
	}
	return out
}

// maxExistingGroups bounds the groups of pods by usable existing nodes that get rows of their
// own, so the LP stays small.
const maxExistingGroups = 16

// existingGroupRows returns, when there are existing nodes, a row per resource for each group
// of the component's pods that may use the same existing nodes (by taints and labels; pods that
// may use none form a group too): the group's demand less those nodes' free room, which only the
// new nodes can meet. The total row (all pods less all free room) cannot see that a tainted or
// labelled node's room is no use to pods that may not go there. At most maxExistingGroups
// groups, the first by signature order; rows whose need is not positive are left out.
func (b *boundInput) existingGroupRows(c *lbComponent) []coverConstraint {
	if len(b.in.Nodes) == 0 {
		return nil
	}
	type group struct {
		demand Resources
		free   Resources
		pods   []*lbPod
	}
	byNodes := map[string]*group{}
	var order []string
	for _, p := range c.pods {
		key := fmt.Sprint(b.sigNodes[p.sig])
		g, ok := byNodes[key]
		if !ok {
			if len(order) == maxExistingGroups {
				continue
			}
			g = &group{demand: Resources{}, free: b.sigFree[p.sig]}
			byNodes[key] = g
			order = append(order, key)
		}
		g.demand.AddInPlace(p.requests)
		g.pods = append(g.pods, p)
	}
	var out []coverConstraint
	for _, key := range order {
		g := byNodes[key]
		dims := make([]corev1.ResourceName, 0, len(g.demand))
		for k := range g.demand {
			dims = append(dims, k)
		}
		slices.Sort(dims)
		for _, k := range dims {
			if need := g.demand[k] - g.free[k]; need > 0 {
				out = append(out, coverConstraint{dim: k, need: float64(need), pods: g.pods})
			}
		}
	}
	return out
}

// thresholds returns up to maxThresholds of the distinct positive requests of a among the
// component's pods, ascending, leaving out values every one of its types has usable.
func (b *boundInput) thresholds(c *lbComponent, a corev1.ResourceName) []int64 {
	smallest := int64(math.MaxInt64)
	for _, i := range c.items {
		smallest = min(smallest, b.items[i].usable[a])
	}
	seen := map[int64]bool{}
	var values []int64
	for _, p := range c.pods {
		if v := p.requests[a]; v > smallest && !seen[v] {
			seen[v] = true
			values = append(values, v)
		}
	}
	slices.Sort(values)
	if len(values) <= maxThresholds {
		return values
	}
	out := make([]int64, 0, maxThresholds)
	for i := range maxThresholds {
		out = append(out, values[i*(len(values)-1)/(maxThresholds-1)])
	}
	return slices.Compact(out)
}

// coverBound returns the optimum of min Σ prices[o]·x[o] subject to Σ_o rows[o][k]·x[o] ≥ 1 for
// every k and x ≥ 0 (rows are supplies normalised by the demand, all ≥ 0; prices ≥ 0), or a
// value below it when the iteration cap is hit.
//
// It runs the primal simplex method on the dual: max Σ_k y[k] subject to rows[o]·y ≤ prices[o]
// and y ≥ 0, walking from vertex to vertex of that polytope from y = 0. A vertex is named by the
// d constraints tight there (a type's, or y[k] = 0); Bland's rule (the smallest constraint
// leaves and enters first) rules out cycling. By weak duality any feasible y bounds the primal
// from below, so y is finally scaled down until every constraint holds exactly in floating
// point, and Σ y is returned.
func coverBound(rows [][]float64, prices []float64) float64 {
	y := coverDual(rows, prices)
	if y == nil {
		return 0
	}
	return certify(rows, prices, y)
}

// coverDual runs coverBound's simplex and returns its last dual vector y (one price per row
// column, in the rows' units; not yet certified feasible), or nil when the rows have no columns.
func coverDual(rows [][]float64, prices []float64) []float64 {
	y, _ := coverSolve(rows, prices)
	return y
}

// enteringConstraint is the ratio test of coverBound: the first constraint met moving from y
// along dir (ties to the smallest name) and the step to it; math.MinInt when none is met.
// supports are rowSupports(rows), or nil to compute every product densely; with supports, y
// and dir must be finite (see dotOn).
func enteringConstraint(rows [][]float64, supports [][]int32, prices []float64, inTight []bool, y, dir []float64, eps float64) (int, float64) {
	enter, step := math.MinInt, math.Inf(1)
	for k := range y {
		if dir[k] < -eps {
			if t := max(0, y[k]/-dir[k]); t < step || (t == step && -k-1 < enter) {
				enter, step = -k-1, t
			}
		}
	}
	for o, row := range rows {
		if inTight[o] {
			continue
		}
		var ad float64
		if supports != nil && supports[o] != nil {
			ad = dotOn(row, dir, supports[o])
		} else {
			ad = dot(row, dir)
		}
		if ad <= eps {
			continue
		}
		var ay float64
		if supports != nil && supports[o] != nil {
			ay = dotOn(row, y, supports[o])
		} else {
			ay = dot(row, y)
		}
		if t := max(0, (prices[o]-ay)/ad); t < step {
			enter, step = o, t
		}
	}
	return enter, step
}

// rowSupports returns, per row, the indices of its nonzero entries ascending, or nil for a row
// with more than a quarter of its entries nonzero (dot is then about as quick). The column
// packer's rows (one node's filling over the pool's shapes) are mostly zero.
func rowSupports(rows [][]float64) [][]int32 {
	out := make([][]int32, len(rows))
	var buf []int32
	for o, row := range rows {
		n := 0
		for _, v := range row {
			if v != 0 {
				n++
			}
		}
		if 4*n > len(row) {
			continue
		}
		if len(buf) < n {
			buf = make([]int32, max(n, 256))
		}
		out[o], buf = buf[:0:n], buf[n:]
		for k, v := range row {
			if v != 0 {
				out[o] = append(out[o], int32(k))
			}
		}
	}
	return out
}

// dotOn is dot(a, b) over support, the indices of a's nonzero entries, only. For finite b it
// is bit-identical to dot: each term left out is ±0 (a zero times a finite number), and adding
// ±0 to a sum that starts at +0 leaves it unchanged (such a sum is never -0).
func dotOn(a, b []float64, support []int32) float64 {
	s := 0.0
	for _, i := range support {
		s += a[i] * b[i]
	}
	return s
}

// allFinite reports whether no entry of v is infinite or NaN.
func allFinite(v []float64) bool {
	for _, x := range v {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return false
		}
	}
	return true
}

// certify clamps y at 0, scales it until rows[o]·y ≤ prices[o] for every o, and returns Σ y.
func certify(rows [][]float64, prices []float64, y []float64) float64 {
	for k := range y {
		y[k] = max(0, y[k])
	}
	scale := 1.0
	for o, row := range rows {
		if v := dot(row, y); v > prices[o] {
			scale = min(scale, prices[o]/v) // v > prices[o] >= 0
		}
	}
	sum := 0.0
	for _, v := range y {
		sum += v * scale
	}
	// Rounding in the products above: shave a relative 1e-9 so that the bound stays below the
	// exact optimum.
	return sum * (1 - 1e-9)
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// luFactors is an LU factorisation with partial pivoting of a square matrix m: row perm[i] of m
// is row i of L·U (L unit lower triangular, U upper, both in a). x, xT and z (n each) hold the
// results of solve and solveT.
type luFactors struct {
	a        [][]float64
	perm     []int
	x, xT, z []float64
}

// newLU returns room for the factors of an n×n matrix.
func newLU(n int) *luFactors {
	f := &luFactors{a: make([][]float64, n), perm: make([]int, n), x: make([]float64, n), xT: make([]float64, n), z: make([]float64, n)}
	buf := make([]float64, n*n)
	for i := range f.a {
		f.a[i] = buf[i*n : (i+1)*n]
	}
	return f
}

// factor factorises m (n×n, as newLU's n) into f; false when m is singular.
func (f *luFactors) factor(m [][]float64) bool {
	n := len(m)
	for i := range m {
		copy(f.a[i], m[i])
		f.perm[i] = i
	}
	a := f.a
	for col := range n {
		pivot := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[pivot][col]) {
				pivot = r
			}
		}
		if math.Abs(a[pivot][col]) < 1e-300 {
			return false
		}
		a[col], a[pivot] = a[pivot], a[col]
		f.perm[col], f.perm[pivot] = f.perm[pivot], f.perm[col]
		inv := 1 / a[col][col]
		for r := col + 1; r < n; r++ {
			if a[r][col] == 0 {
				continue
			}
			l := a[r][col] * inv
			a[r][col] = l
			row, top := a[r], a[col]
			for c := col + 1; c < n; c++ {
				row[c] -= l * top[c]
			}
		}
	}
	return true
}

// solve returns x with m·x = b; x is f's, overwritten by the next solve.
func (f *luFactors) solve(b []float64) []float64 {
	n := len(f.a)
	x := f.x
	for i := range n {
		v := b[f.perm[i]]
		for j := range i {
			v -= f.a[i][j] * x[j]
		}
		x[i] = v
	}
	for i := n - 1; i >= 0; i-- {
		v := x[i]
		for j := i + 1; j < n; j++ {
			v -= f.a[i][j] * x[j]
		}
		x[i] = v / f.a[i][i]
	}
	return x
}

// solveT returns x with mᵀ·x = b: Uᵀ·z = b, Lᵀ·w = z, x[perm[i]] = w[i]; x is f's,
// overwritten by the next solveT.
func (f *luFactors) solveT(b []float64) []float64 {
	n := len(f.a)
	z := f.z
	copy(z, b)
	for i := range n {
		v := z[i]
		for j := range i {
			v -= f.a[j][i] * z[j]
		}
		z[i] = v / f.a[i][i]
	}
	for i := n - 1; i >= 0; i-- {
		v := z[i]
		for j := i + 1; j < n; j++ {
			v -= f.a[j][i] * z[j]
		}
		z[i] = v
	}
	x := f.xT
	for i, p := range f.perm {
		x[p] = z[i]
	}
	return x
}
