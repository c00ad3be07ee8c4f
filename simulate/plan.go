package simulate

import (
	"fmt"
	"math"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// Plan is the node plan, as `simulate -o json` prints it. The field names are stable; new
// fields may be added. Money is USD/hour, cpu millicores, memory bytes. Lists are sorted, so
// the same input gives the same output.
type Plan struct {
	Catalog string `json:"catalog"` // "sandbox" or "aws"
	Region  string `json:"region"`
	// Zones are the zones offerings were listed in (every zone of the region offering a type).
	Zones []string `json:"zones"`
	// NewNodes are the nodes to launch, grouped by provisioner, instance type, zone and
	// capacity type.
	NewNodes []NodeGroup `json:"newNodes"`
	// ExistingNodes are the existing nodes (--nodes) that take pods, with the pods.
	ExistingNodes []ExistingNodePlan `json:"existingNodes"`
	// DaemonSetPodsToStart are the existing nodes where DaemonSets of the input will start a
	// pod they do not run yet (their node selection and tolerations admit the node, and no pod
	// of theirs is bound or pinned to it): their requests are taken from the node's room before
	// pods are planned there. Sorted by node.
	DaemonSetPodsToStart []NodeDaemonSetPods `json:"daemonSetPodsToStart"`
	// Unschedulable are the pods that fit nowhere, with the solver's reason (and, when the
	// zones it requires are not in the region, a note saying so).
	Unschedulable []UnschedulablePod `json:"unschedulable"`
	// SpreadAtRisk are the pods the plan places where the plan's final state breaks one of
	// their topology spread constraints (whenUnsatisfiable DoNotSchedule), read as
	// kube-scheduler reads it (scheduling.CheckSpreads): kube-scheduler may bind such a pod
	// after the others and then leave it Pending. One entry per pod and constraint broken
	// (a breach), sorted by pod: a pod that breaks two constraints has two entries.
	// Summary.SpreadAtRisk counts the pods, Summary.SpreadBreaches the entries.
	SpreadAtRisk []AtRiskPod `json:"spreadAtRisk"`
	// Skipped are input objects the simulation does not use.
	Skipped []Skipped `json:"skipped"`
	Summary Summary   `json:"summary"`
}

// NodeGroup is count identical new nodes. For each node the planner takes the cheapest
// instance type option and its cheapest allowed available offering
// (scheduling.NodeClaim.PlannedOffering); the cloud provider decides at launch among all
// options, so the zone and capacity type are an estimate.
type NodeGroup struct {
	Provisioner  string `json:"provisioner"`
	InstanceType string `json:"instanceType"`
	Zone         string `json:"zone"`
	CapacityType string `json:"capacityType"` // "spot" or "on-demand"
	Count        int    `json:"count"`
	// USDPerHourEach is the offering's price of one node; USDPerHour is Count times it.
	USDPerHourEach float64 `json:"usdPerHourEach"`
	USDPerHour     float64 `json:"usdPerHour"`
	// Pods are the pods planned on the group's nodes ("namespace/name"), Workloads the same
	// counted per owning workload.
	Pods      []string        `json:"pods"`
	Workloads []WorkloadCount `json:"workloads"`
	// Nodes are the group's nodes, one entry each (Count in all), with the pods planned on
	// that node: which pods share a node. Sorted by their pods.
	Nodes []PlannedNode `json:"nodes"`
	// Requests are the pods' summed requests; Allocatable is the summed allocatable of the
	// group's nodes (capacity minus kube-reserved, system-reserved and eviction threshold).
	Requests    Amounts `json:"requests"`
	Allocatable Amounts `json:"allocatable"`
	// CPUUtilisation and MemoryUtilisation are Requests / Allocatable (0 to 1); daemonset
	// pods are not counted in Requests.
	CPUUtilisation    float64 `json:"cpuUtilisation"`
	MemoryUtilisation float64 `json:"memoryUtilisation"`
}

// PlannedNode is one new node of a NodeGroup.
type PlannedNode struct {
	// Pods are the pods planned on the node ("namespace/name"), sorted; daemonset pods are not
	// listed.
	Pods []string `json:"pods"`
}

// Amounts are resource amounts.
type Amounts struct {
	CPUMillicores int64 `json:"cpuMillicores"`
	MemoryBytes   int64 `json:"memoryBytes"`
	Pods          int64 `json:"pods"`
}

// WorkloadCount is how many pods of one workload ("Deployment default/web", or "Pod
// default/x" for a pod without controller) a node group or node takes.
type WorkloadCount struct {
	Workload string `json:"workload"`
	Pods     int    `json:"pods"`
}

// ExistingNodePlan is an existing node that takes pods.
type ExistingNodePlan struct {
	Name      string          `json:"name"`
	Pods      []string        `json:"pods"`
	Workloads []WorkloadCount `json:"workloads"`
}

// NodeDaemonSetPods are the pods DaemonSets will start on an existing node.
type NodeDaemonSetPods struct {
	Node string `json:"node"`
	// DaemonSets are the DaemonSets ("namespace/name"), sorted; Requests their pods' summed
	// requests.
	DaemonSets []string `json:"daemonSets"`
	Requests   Amounts  `json:"requests"`
	// Short are the resources (cpu, memory, pods ...) the node's room, its allocatable minus
	// its bound pods, lacks for them, sorted: when there are some, no pod is planned on the
	// node (its bound pods stay). Empty when they fit.
	Short []string `json:"short"`
}

// UnschedulablePod is a pod the plan cannot place.
type UnschedulablePod struct {
	Pod      string `json:"pod"`
	Workload string `json:"workload"`
	Reason   string `json:"reason"`
}

// AtRiskPod is a pod placed by the plan whose topology spread constraint the plan's final
// state breaks.
type AtRiskPod struct {
	Pod         string `json:"pod"`
	Workload    string `json:"workload"`
	TopologyKey string `json:"topologyKey"`
	// Domain is the pod's domain; Count the selected pods there (the pod included), Least the
	// least over the other eligible domains, in LeastDomain ("" when the eligible domains are
	// fewer than the constraint's minDomains, and Least is 0): Count - Least > MaxSkew.
	Domain      string `json:"domain"`
	Count       int    `json:"count"`
	Least       int    `json:"least"`
	LeastDomain string `json:"leastDomain"`
	MaxSkew     int    `json:"maxSkew"`
	Reason      string `json:"reason"`
}

// Summary totals the plan.
type Summary struct {
	Pods                  int `json:"pods"`
	PlacedOnNewNodes      int `json:"placedOnNewNodes"`
	PlacedOnExistingNodes int `json:"placedOnExistingNodes"`
	Unschedulable         int `json:"unschedulable"`
	// SpreadAtRisk is the number of pods in Plan.SpreadAtRisk (each pod once), SpreadBreaches
	// the number of its entries (one per pod and constraint broken): more when a pod breaks
	// several constraints.
	SpreadAtRisk   int `json:"spreadAtRisk"`
	SpreadBreaches int `json:"spreadBreaches"`
	NewNodes       int `json:"newNodes"`
	// USDPerHour is the price of the new nodes.
	USDPerHour float64 `json:"usdPerHour"`
	// LowerBoundUSDPerHour is scheduling.LowerBound of the same input less the unschedulable
	// pods: no plan that places the pods placed here can cost less (docs/guides/lower-bound.md).
	LowerBoundUSDPerHour float64 `json:"lowerBoundUsdPerHour"`
}

// BuildPlan turns the solver's result for in into a Plan; lowerBound is
// scheduling.LowerBound(in) in USD/hour.
func BuildPlan(c *Catalog, w *Workload, res *scheduling.Result, lowerBound float64) *Plan {
	p := &Plan{Catalog: c.Name, Region: c.Region, Zones: c.Zones(), NewNodes: []NodeGroup{}, ExistingNodes: []ExistingNodePlan{},
		DaemonSetPodsToStart: daemonSetPodsToStart(w.NodeDaemonSets),
		Unschedulable:        []UnschedulablePod{}, SpreadAtRisk: []AtRiskPod{}, Skipped: append([]Skipped{}, w.Skipped...)}
	p.NewNodes = groupNewNodes(res.NewNodes)
	for _, g := range p.NewNodes {
		p.Summary.NewNodes += g.Count
		p.Summary.USDPerHour += g.USDPerHour
		p.Summary.PlacedOnNewNodes += len(g.Pods)
	}
	for name, pods := range res.ExistingNodes {
		p.ExistingNodes = append(p.ExistingNodes, ExistingNodePlan{Name: name, Pods: podNames(pods), Workloads: workloads(pods)})
		p.Summary.PlacedOnExistingNodes += len(pods)
	}
	sort.Slice(p.ExistingNodes, func(i, j int) bool { return p.ExistingNodes[i].Name < p.ExistingNodes[j].Name })
	for _, e := range append(append([]scheduling.PodError{}, w.Unplaced...), res.Errors...) {
		p.Unschedulable = append(p.Unschedulable, UnschedulablePod{Pod: podKey(e.Pod), Workload: workloadOf(e.Pod),
			Reason: unschedulableReason(e.Pod, e.Reason, c.Region, c.Zones(), c.TypeNames())})
	}
	sort.SliceStable(p.Unschedulable, func(i, j int) bool { return p.Unschedulable[i].Pod < p.Unschedulable[j].Pod })
	atRisk := map[string]bool{}
	for _, b := range scheduling.CheckSpreads(w.Nodes, res) {
		p.SpreadAtRisk = append(p.SpreadAtRisk, AtRiskPod{Pod: podKey(b.Pod), Workload: workloadOf(b.Pod), TopologyKey: b.TopologyKey,
			Domain: b.Domain, Count: b.Count, Least: b.Least, LeastDomain: b.LeastDomain, MaxSkew: b.MaxSkew, Reason: b.Reason()})
		atRisk[podKey(b.Pod)] = true
	}
	sort.SliceStable(p.SpreadAtRisk, func(i, j int) bool { return p.SpreadAtRisk[i].Pod < p.SpreadAtRisk[j].Pod })
	p.Summary.SpreadAtRisk, p.Summary.SpreadBreaches = len(atRisk), len(p.SpreadAtRisk)
	p.Summary.USDPerHour = roundUSD(p.Summary.USDPerHour)
	p.Summary.LowerBoundUSDPerHour = roundUSD(lowerBound)
	p.Summary.Unschedulable = len(p.Unschedulable)
	p.Summary.Pods = len(w.Pods) + len(w.Unplaced)
	return p
}

// daemonSetPodsToStart lists what the DaemonSets take on existing nodes, by node.
func daemonSetPodsToStart(nds []NodeDaemonSets) []NodeDaemonSetPods {
	out := make([]NodeDaemonSetPods, 0, len(nds))
	for _, nd := range nds {
		e := NodeDaemonSetPods{Node: nd.Node, DaemonSets: []string{}, Requests: Amounts{}.add(nd.Requests), Short: append([]string{}, nd.Short...)}
		for _, ds := range nd.DaemonSets {
			e.DaemonSets = append(e.DaemonSets, ds.Namespace+"/"+ds.Name)
		}
		sort.Strings(e.DaemonSets)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

type groupKey struct{ provisioner, instanceType, zone, capacityType string }

// groupNewNodes groups claims by their planned offering; claims without options (the solver
// never returns them) are grouped under an empty instance type rather than dropped.
func groupNewNodes(claims []*scheduling.NodeClaim) []NodeGroup {
	groups := map[groupKey]*NodeGroup{}
	var pods = map[groupKey][]*corev1.Pod{}
	for _, c := range claims {
		it, o, _ := c.PlannedOffering()
		k := groupKey{provisioner: c.Provisioner.Name, zone: o.Zone, capacityType: o.CapacityType}
		var alloc scheduling.Resources
		if it != nil {
			k.instanceType, alloc = it.Name, scheduling.FromList(it.Allocatable())
		}
		g := groups[k]
		if g == nil {
			g = &NodeGroup{Provisioner: k.provisioner, InstanceType: k.instanceType, Zone: k.zone, CapacityType: k.capacityType, USDPerHourEach: o.Price}
			groups[k] = g
		}
		g.Count++
		g.USDPerHour += o.Price
		g.Allocatable = g.Allocatable.add(alloc)
		g.Requests = g.Requests.add(c.Requests)
		pods[k] = append(pods[k], c.Pods...)
		g.Nodes = append(g.Nodes, PlannedNode{Pods: podNames(c.Pods)})
	}
	out := make([]NodeGroup, 0, len(groups))
	for k, g := range groups {
		g.Pods, g.Workloads = podNames(pods[k]), workloads(pods[k])
		sort.Slice(g.Nodes, func(i, j int) bool { return slices.Compare(g.Nodes[i].Pods, g.Nodes[j].Pods) < 0 })
		g.USDPerHour = roundUSD(g.USDPerHour)
		g.CPUUtilisation = ratio(g.Requests.CPUMillicores, g.Allocatable.CPUMillicores)
		g.MemoryUtilisation = ratio(g.Requests.MemoryBytes, g.Allocatable.MemoryBytes)
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Provisioner != b.Provisioner {
			return a.Provisioner < b.Provisioner
		}
		if a.InstanceType != b.InstanceType {
			return a.InstanceType < b.InstanceType
		}
		if a.Zone != b.Zone {
			return a.Zone < b.Zone
		}
		return a.CapacityType < b.CapacityType
	})
	return out
}

// add returns a plus the cpu, memory and pods of r (milli-units, see scheduling.Resources).
func (a Amounts) add(r scheduling.Resources) Amounts {
	a.CPUMillicores += r[corev1.ResourceCPU]
	a.MemoryBytes += r[corev1.ResourceMemory] / 1000
	a.Pods += r[corev1.ResourcePods] / 1000
	return a
}

// roundUSD rounds sums of prices to a millionth of a dollar, dropping floating-point noise
// (0.30000000000000004) that catalogue prices, given to at most 6 decimals, do not carry.
func roundUSD(v float64) float64 { return math.Round(v*1e6) / 1e6 }

func ratio(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

func podNames(pods []*corev1.Pod) []string {
	out := make([]string, 0, len(pods))
	for _, p := range pods {
		out = append(out, podKey(p))
	}
	sort.Strings(out)
	return out
}

// workloadOf names the pod's controller ("Deployment default/web"), or the pod itself.
func workloadOf(p *corev1.Pod) string {
	if ref := metav1.GetControllerOf(p); ref != nil {
		return fmt.Sprintf("%s %s/%s", ref.Kind, p.Namespace, ref.Name)
	}
	return "Pod " + podKey(p)
}

// workloads counts pods per workload, most pods first, then by name.
func workloads(pods []*corev1.Pod) []WorkloadCount {
	counts := map[string]int{}
	for _, p := range pods {
		counts[workloadOf(p)]++
	}
	out := make([]WorkloadCount, 0, len(counts))
	for w, n := range counts {
		out = append(out, WorkloadCount{Workload: w, Pods: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pods != out[j].Pods {
			return out[i].Pods > out[j].Pods
		}
		return out[i].Workload < out[j].Workload
	})
	return out
}
