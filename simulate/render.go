package simulate

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Output formats (-o).
const (
	OutputTable = "table"
	OutputJSON  = "json"
)

// WriteJSON writes the plan as indented JSON (the shape of Plan).
func WriteJSON(w io.Writer, p *Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// WriteTable writes the plan for people: new node groups, pods on existing nodes,
// unschedulable pods grouped by workload and reason, and the totals.
func WriteTable(w io.Writer, p *Plan) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Catalogue: %s (%s: %s)\n\n", p.Catalog, p.Region, strings.Join(p.Zones, ", "))
	writeNewNodes(tw, p.NewNodes)
	writeExisting(tw, p.ExistingNodes)
	writeDaemonSetPods(tw, p.DaemonSetPodsToStart)
	writeUnschedulable(tw, p.Unschedulable)
	writeAtRisk(tw, p.SpreadAtRisk)
	writeSummary(tw, p)
	return tw.Flush()
}

func writeNewNodes(w io.Writer, groups []NodeGroup) {
	fmt.Fprintln(w, "NEW NODES")
	if len(groups) == 0 {
		fmt.Fprint(w, "(none)\n\n")
		return
	}
	fmt.Fprintln(w, "PROVISIONER\tINSTANCE TYPE\tZONE\tCAPACITY\tCOUNT\tUSD/H EACH\tUSD/H\tCPU\tMEMORY\tPODS\tWORKLOADS")
	for _, g := range groups {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%.4f\t%.4f\t%.0f%%\t%.0f%%\t%d\t%s\n",
			g.Provisioner, g.InstanceType, g.Zone, g.CapacityType, g.Count, g.USDPerHourEach, g.USDPerHour,
			100*g.CPUUtilisation, 100*g.MemoryUtilisation, len(g.Pods), workloadList(g.Workloads))
	}
	fmt.Fprintln(w)
}

func writeExisting(w io.Writer, nodes []ExistingNodePlan) {
	if len(nodes) == 0 {
		return
	}
	fmt.Fprintln(w, "PODS ON EXISTING NODES")
	fmt.Fprintln(w, "NODE\tPODS\tWORKLOADS")
	for _, n := range nodes {
		fmt.Fprintf(w, "%s\t%d\t%s\n", n.Name, len(n.Pods), workloadList(n.Workloads))
	}
	fmt.Fprintln(w)
}

// writeDaemonSetPods writes, per existing node, the DaemonSets that will start a pod there and
// what their pods take from its room.
func writeDaemonSetPods(w io.Writer, nodes []NodeDaemonSetPods) {
	if len(nodes) == 0 {
		return
	}
	fmt.Fprintln(w, "DAEMONSET PODS TO START ON EXISTING NODES (taken from the node's room before pods are planned)")
	short := false
	for _, n := range nodes {
		short = short || len(n.Short) > 0
	}
	header := "NODE\tCPU\tMEMORY\tDAEMONSETS"
	if short {
		header += "\tNOTE"
	}
	fmt.Fprintln(w, header)
	for _, n := range nodes {
		row := fmt.Sprintf("%s\t%s\t%s\t%s", n.Node, resource.NewMilliQuantity(n.Requests.CPUMillicores, resource.DecimalSI),
			resource.NewQuantity(n.Requests.MemoryBytes, resource.BinarySI), strings.Join(n.DaemonSets, ", "))
		if len(n.Short) > 0 {
			row += "\tits bound pods leave too little " + strings.Join(n.Short, ", ") + ": no pod is planned on it"
		}
		fmt.Fprintln(w, row)
	}
	fmt.Fprintln(w)
}

// writeUnschedulable groups pods of one workload with one reason into one line.
func writeUnschedulable(w io.Writer, pods []UnschedulablePod) {
	rows := make([]workloadReason, 0, len(pods))
	for _, p := range pods {
		rows = append(rows, workloadReason{p.Workload, p.Reason})
	}
	writeByWorkload(w, "UNSCHEDULABLE PODS", rows)
}

// writeAtRisk writes each at-risk pod once, with the reasons of all the constraints it breaks
// (those of one pod joined by "; ", in its entries' order, a reason said once), and groups the
// pods of one workload with the same reasons into one line: the lines' pods add up to the
// summary's pods at risk, whereas pods has one entry per pod and constraint.
func writeAtRisk(w io.Writer, pods []AtRiskPod) {
	var order []string
	reasons := map[string][]string{}
	workload := map[string]string{}
	for _, p := range pods {
		if _, ok := workload[p.Pod]; !ok {
			order = append(order, p.Pod)
			workload[p.Pod] = p.Workload
		}
		if !slices.Contains(reasons[p.Pod], p.Reason) {
			reasons[p.Pod] = append(reasons[p.Pod], p.Reason)
		}
	}
	rows := make([]workloadReason, 0, len(order))
	for _, pod := range order {
		rows = append(rows, workloadReason{workload[pod], strings.Join(reasons[pod], "; ")})
	}
	writeByWorkload(w, "PODS AT RISK (the plan breaks their topology spread: kube-scheduler may bind them last and leave them Pending)", rows)
}

// workloadReason is one pod's line in a table by workload: its workload and what is said of it.
type workloadReason struct{ workload, reason string }

// writeByWorkload writes the section title and one line per workload and reason with the
// number of pods (rows) it holds, by workload; nothing when rows is empty.
func writeByWorkload(w io.Writer, title string, rows []workloadReason) {
	if len(rows) == 0 {
		return
	}
	var order []workloadReason
	count := map[workloadReason]int{}
	for _, k := range rows {
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].workload < order[j].workload })
	fmt.Fprintln(w, title)
	fmt.Fprintln(w, "WORKLOAD\tPODS\tREASON")
	for _, k := range order {
		fmt.Fprintf(w, "%s\t%d\t%s\n", k.workload, count[k], k.reason)
	}
	fmt.Fprintln(w)
}

func writeSummary(w io.Writer, p *Plan) {
	s := p.Summary
	fmt.Fprintln(w, "SUMMARY")
	fmt.Fprintf(w, "pods\t%d (%d on new nodes, %d on existing nodes, %d unschedulable)\n",
		s.Pods, s.PlacedOnNewNodes, s.PlacedOnExistingNodes, s.Unschedulable)
	if s.SpreadAtRisk > 0 {
		fmt.Fprintf(w, "at risk\t%s\n", atRiskSummary(s.SpreadAtRisk, s.SpreadBreaches))
	}
	fmt.Fprintf(w, "new nodes\t%d\n", s.NewNodes)
	fmt.Fprintf(w, "total\t%.4f USD/hour\n", s.USDPerHour)
	bound := fmt.Sprintf("%.4f USD/hour", s.LowerBoundUSDPerHour)
	if s.LowerBoundUSDPerHour > 0 {
		bound += fmt.Sprintf(" (total is %.2fx)", s.USDPerHour/s.LowerBoundUSDPerHour)
	}
	if s.Unschedulable > 0 {
		bound += " for the pods placed"
	}
	fmt.Fprintf(w, "lower bound\t%s\n", bound)
}

// atRiskSummary words the pods at risk and, when some break more than one constraint, the
// breaches (Plan.SpreadAtRisk's entries): "3 pods whose topology spread the plan breaks (5
// breaches, one per pod and constraint)".
func atRiskSummary(pods, breaches int) string {
	text := fmt.Sprintf("%d pods whose topology spread the plan breaks", pods)
	if pods == 1 {
		text = "1 pod whose topology spread the plan breaks"
	}
	if breaches > pods {
		text += fmt.Sprintf(" (%d breaches, one per pod and constraint)", breaches)
	}
	return text
}

// workloadList renders "Deployment default/web x7, Job default/batch x1".
func workloadList(ws []WorkloadCount) string {
	parts := make([]string, 0, len(ws))
	for _, c := range ws {
		parts = append(parts, fmt.Sprintf("%s x%d", c.Workload, c.Pods))
	}
	return strings.Join(parts, ", ")
}
