// Command karpenter runs our solver (controller/scheduling) and Karpenter's provisioning
// scheduler (sigs.k8s.io/karpenter v1.15.0, pkg/controllers/provisioning/scheduling) on the same
// pods and the same instance types (the sandbox catalogue as our controller sees it, converted
// to Karpenter's types with the same capacity, overhead, offerings and prices), and prints both
// results in one table. See README.md for how Karpenter is set up and why that is fair.
//
// The instance types come as JSON written by the main module's bench/cmd/instancetypes: this
// binary cannot link our AWS cloud provider beside Karpenter, as both register Prometheus
// metrics of the same names (karpenter_nodes_created_total, ...) at start-up.
//
//	go run ./bench/cmd/instancetypes -o bin/instancetypes.json      # in the repository root
//	GOTOOLCHAIN=go1.27.3 go run . -instance-types ../../bin/instancetypes.json [-large] [-min-time 2s]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/nodeform/terraform-provider-karpenter/bench"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

func main() {
	typesFile := flag.String("instance-types", "", "JSON file of the instance types (go run ./bench/cmd/instancetypes in the repository root); required")
	large := flag.Bool("large", false, "include the 20k-pod Karpenter mix")
	minTime := flag.Duration("min-time", 2*time.Second, "time each solve at least this long (at least two runs)")
	only := flag.String("run", "", "compare only the workloads whose name matches this regular expression (e.g. 'mix-5k$')")
	flag.Parse()
	match, err := regexp.Compile(*only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "karpenter: -run:", err)
		os.Exit(2)
	}
	if err := run(*typesFile, *large, *minTime, match); err != nil {
		fmt.Fprintln(os.Stderr, "karpenter:", err)
		os.Exit(1)
	}
}

func run(typesFile string, large bool, minTime time.Duration, match *regexp.Regexp) error {
	ctx := context.Background()
	types, err := readInstanceTypes(typesFile)
	if err != nil {
		return err
	}
	workloads, err := bench.Workloads(types, large)
	if err != nil {
		return err
	}
	kTypes := instanceTypes(types)
	fmt.Printf("Our solver beside Karpenter v1.15.0's scheduler on the sandbox catalogue: %d instance types, spot and on-demand in 3 zones\n\n", len(types))
	var rows []bench.Row
	for _, w := range workloads {
		if len(w.Nodes) > 0 {
			continue // existing nodes would need Karpenter's cluster state filled through a kube client: not compared
		}
		if !match.MatchString(w.Name) {
			continue
		}
		lb := scheduling.LowerBound(w.Input(types))
		ours := bench.MeasureSolve(w, types, minTime)
		theirs, err := measureKarpenter(ctx, w, kTypes, minTime)
		if err != nil {
			return fmt.Errorf("%s: %w", w.Name, err)
		}
		fmt.Fprintf(os.Stderr, "  %s: ours %.3fs, karpenter %.3fs per solve\n", w.Name, ours.Seconds, theirs.Seconds)
		rows = append(rows, bench.Row{Workload: w.Name, LowerBound: lb, Results: []bench.Result{ours, theirs}})
	}
	return bench.WriteTable(os.Stdout, []string{"ours", "karpenter"}, rows)
}

// readInstanceTypes reads the JSON array of instance types in path. Errors: no path, an
// unreadable file, bad JSON, or an empty array, each naming the file.
func readInstanceTypes(path string) ([]*cloudprovider.InstanceType, error) {
	if path == "" {
		return nil, errors.New("-instance-types is required: write it with `go run ./bench/cmd/instancetypes -o bin/instancetypes.json` in the repository root (make bench-karpenter does)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var types []*cloudprovider.InstanceType
	if err := json.Unmarshal(data, &types); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("%s: no instance types", path)
	}
	return types, nil
}
