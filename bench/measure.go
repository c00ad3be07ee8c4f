package bench

import (
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// Result is one scheduler's outcome on one workload.
type Result struct {
	Pods int
	// Seconds is the mean wall time of one solve (the solve alone: inputs are built before the
	// clock starts).
	Seconds float64
	// AllocsPerPod is heap allocations of one solve divided by Pods (runtime.MemStats.Mallocs).
	AllocsPerPod float64
	Nodes        int     // new nodes
	USDPerHour   float64 // new nodes, each at its cheapest allowed offering
	Unplaced     int     // pods left without a node
	// AtRisk is the number of placed pods whose topology spread the plan's final state breaks
	// (scheduling.CheckSpreads): kube-scheduler may bind them last and leave them Pending.
	AtRisk int
}

// PodsPerSecond is Pods / Seconds.
func (r Result) PodsPerSecond() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Pods) / r.Seconds
}

// Input returns the solver's input for w: the provisioner of Provisioner() with types.
func (w Workload) Input(types []*cloudprovider.InstanceType) scheduling.Input {
	return scheduling.Input{
		Pods:         w.Pods,
		Nodes:        w.Nodes,
		Provisioners: []scheduling.ProvisionerInput{{Provisioner: Provisioner(), InstanceTypes: types}},
	}
}

// Stopwatch measures the part of a run that is the solve itself: wall time and heap
// allocations (runtime.MemStats.Mallocs) of the functions passed to Time.
type Stopwatch struct {
	seconds float64
	mallocs uint64
}

// Time runs f and adds its wall time and heap allocations to the stopwatch. It collects garbage
// first, off the clock, as the testing package does before each benchmark, so that a solve is
// charged for the collections its own allocations cause, not for the garbage its set-up or an
// earlier run left.
func (s *Stopwatch) Time(f func()) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	s.seconds += time.Since(start).Seconds()
	runtime.ReadMemStats(&after)
	s.mallocs += after.Mallocs - before.Mallocs
}

// Timed calls run at least twice and until minTime of solving has passed (at most 50 times);
// run sets up a solve, times the solve alone with the stopwatch and returns its result. The
// last run's result is returned with Seconds the mean solve time and AllocsPerPod the first
// run's allocations per pod.
func Timed(minTime time.Duration, run func(*Stopwatch) Result) Result {
	var res Result
	var firstMallocs uint64
	total := 0.0
	runs := 0
	for runs < 2 || (total < minTime.Seconds() && runs < 50) {
		sw := &Stopwatch{}
		res = run(sw)
		if runs == 0 {
			firstMallocs = sw.mallocs
		}
		total += sw.seconds
		runs++
	}
	res.Seconds = total / float64(runs)
	if res.Pods > 0 {
		res.AllocsPerPod = float64(firstMallocs) / float64(res.Pods)
	}
	return res
}

// SolveResult summarises a plan of scheduling.Solve for pods pods.
func SolveResult(pods int, res *scheduling.Result) Result {
	out := Result{Pods: pods, Nodes: len(res.NewNodes), Unplaced: len(res.Errors)}
	for _, c := range res.NewNodes {
		if len(c.Prices) > 0 {
			out.USDPerHour += c.Prices[0]
		}
	}
	return out
}

// MeasureSolve times scheduling.Solve on w (see Timed).
func MeasureSolve(w Workload, types []*cloudprovider.InstanceType, minTime time.Duration) Result {
	in := w.Input(types)
	return Timed(minTime, func(sw *Stopwatch) Result {
		var res *scheduling.Result
		sw.Time(func() { res = scheduling.Solve(in) })
		out := SolveResult(len(w.Pods), res)
		out.AtRisk = AtRisk(scheduling.CheckSpreads(in.Nodes, res))
		return out
	})
}

// AtRisk is the number of pods breaches name (a pod with two breached constraints counts once).
func AtRisk(breaches []scheduling.SpreadBreach) int {
	pods := map[*corev1.Pod]bool{}
	for _, b := range breaches {
		pods[b.Pod] = true
	}
	return len(pods)
}

// Row is one line of the table: a workload, its lower bound and each scheduler's result.
type Row struct {
	Workload   string
	LowerBound float64 // USD/hour, scheduling.LowerBound
	Results    []Result
}

// WriteTable prints rows as an aligned table with one group of columns per scheduler name:
// pods, then per scheduler pods/s, allocations per pod (when any is known), nodes, USD/hour,
// cost / lower bound, unplaced pods and pods at risk (Result.AtRisk).
func WriteTable(w io.Writer, schedulers []string, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	header := "workload\tpods\tlower bound $/h\t"
	for _, s := range schedulers {
		header += fmt.Sprintf("%[1]s pods/s\t%[1]s allocs/pod\t%[1]s nodes\t%[1]s $/h\t%[1]s cost/LB\t%[1]s unplaced\t%[1]s at risk\t", s)
	}
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		pods := 0
		if len(r.Results) > 0 {
			pods = r.Results[0].Pods
		}
		line := fmt.Sprintf("%s\t%d\t%.3f\t", r.Workload, pods, r.LowerBound)
		for _, res := range r.Results {
			ratio := "-"
			if r.LowerBound > 0 {
				ratio = fmt.Sprintf("%.3f", res.USDPerHour/r.LowerBound)
			}
			allocs := "-"
			if res.AllocsPerPod > 0 {
				allocs = fmt.Sprintf("%.0f", res.AllocsPerPod)
			}
			line += fmt.Sprintf("%.0f\t%s\t%d\t%.3f\t%s\t%d\t%d\t", res.PodsPerSecond(), allocs, res.Nodes, res.USDPerHour, ratio, res.Unplaced, res.AtRisk)
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}
