// Command table runs scheduling.Solve on the benchmark workloads (bench.Workloads) against the
// full sandbox catalogue and prints one table: workload, pods, lower bound, pods/s, allocations
// per pod, new nodes, USD/hour, cost / lower bound, unplaced pods and pods at risk (bench.Result).
// `make bench` runs it.
//
//	go run ./bench/cmd/table [-large] [-min-time 2s]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nodeform/terraform-provider-karpenter/bench"
	"github.com/nodeform/terraform-provider-karpenter/bench/instancetypes"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

func main() {
	large := flag.Bool("large", true, "include the 20k-pod Karpenter mix")
	minTime := flag.Duration("min-time", 2*time.Second, "time each solve at least this long (at least two runs)")
	flag.Parse()
	if err := run(*large, *minTime); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
}

func run(large bool, minTime time.Duration) error {
	types, err := instancetypes.Sandbox(context.Background())
	if err != nil {
		return err
	}
	workloads, err := bench.Workloads(types, large)
	if err != nil {
		return err
	}
	fmt.Printf("scheduling.Solve on the sandbox catalogue: %d instance types, spot and on-demand in 3 zones\n\n", len(types))
	var rows []bench.Row
	for _, w := range workloads {
		lb := scheduling.LowerBound(w.Input(types))
		res := bench.MeasureSolve(w, types, minTime)
		rows = append(rows, bench.Row{Workload: w.Name, LowerBound: lb, Results: []bench.Result{res}})
		fmt.Fprintf(os.Stderr, "  %s: %d pods in %.3fs\n", w.Name, res.Pods, res.Seconds)
	}
	return bench.WriteTable(os.Stdout, []string{"solver"}, rows)
}
