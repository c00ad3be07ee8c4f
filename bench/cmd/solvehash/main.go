// Command solvehash runs scheduling.Solve once on every benchmark workload (bench.Workloads,
// with the 20k mix) against the sandbox catalogue and prints, per workload, a SHA-256 of the
// full plan: each new node's provisioner, requirements (as node selector requirements, in key
// order), instance type options, prices (exact bits), requests and pod names in order; the pods
// planned on existing nodes (by node name); and the errors (pod and reason) in order. Two
// builds of the solver plan identically when every line matches; speed work checks this.
//
//	go run ./bench/cmd/solvehash [-v]
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/bench"
	"github.com/nodeform/terraform-provider-karpenter/bench/instancetypes"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

func main() {
	verbose := flag.Bool("v", false, "print the serialised plans instead of their hashes")
	flag.Parse()
	if err := run(*verbose); err != nil {
		fmt.Fprintln(os.Stderr, "solvehash:", err)
		os.Exit(1)
	}
}

func run(verbose bool) error {
	types, err := instancetypes.Sandbox(context.Background())
	if err != nil {
		return err
	}
	workloads, err := bench.Workloads(types, true)
	if err != nil {
		return err
	}
	for _, w := range workloads {
		res := scheduling.Solve(w.Input(types))
		if verbose {
			fmt.Printf("== %s\n", w.Name)
			write(os.Stdout, res)
			continue
		}
		h := sha256.New()
		write(h, res)
		in := w.Input(types)
		fmt.Printf("%x  %d nodes  %d errors  %d spread at risk  %s\n", h.Sum(nil), len(res.NewNodes), len(res.Errors), len(scheduling.CheckSpreads(in.Nodes, res)), w.Name)
	}
	return nil
}

// write serialises res canonically to w (see the command's doc).
func write(w io.Writer, res *scheduling.Result) {
	for i, n := range res.NewNodes {
		fmt.Fprintf(w, "node %d provisioner=%s\n", i, n.Provisioner.Name)
		for _, k := range n.Requirements.Keys() {
			r := n.Requirements[k]
			fmt.Fprintf(w, "  req %s any=%t empty=%t %v\n", k, r.IsAny(), r.IsEmpty(), r.NodeSelectorRequirements())
		}
		for j, it := range n.InstanceTypeOptions {
			fmt.Fprintf(w, "  type %s %s\n", it.Name, strconv.FormatFloat(n.Prices[j], 'x', -1, 64))
		}
		if len(n.Prices) != len(n.InstanceTypeOptions) {
			fmt.Fprintf(w, "  %d prices for %d types\n", len(n.Prices), len(n.InstanceTypeOptions))
		}
		names := slices.Sorted(func(yield func(string) bool) {
			for k := range n.Requests {
				if !yield(string(k)) {
					return
				}
			}
		})
		for _, k := range names {
			fmt.Fprintf(w, "  requests %s=%d\n", k, n.Requests[corev1.ResourceName(k)])
		}
		for _, p := range n.Pods {
			fmt.Fprintf(w, "  pod %s/%s\n", p.Namespace, p.Name)
		}
	}
	nodes := make([]string, 0, len(res.ExistingNodes))
	for k := range res.ExistingNodes {
		nodes = append(nodes, k)
	}
	slices.Sort(nodes)
	for _, k := range nodes {
		fmt.Fprintf(w, "existing %s\n", k)
		for _, p := range res.ExistingNodes[k] {
			fmt.Fprintf(w, "  pod %s/%s\n", p.Namespace, p.Name)
		}
	}
	for _, e := range res.Errors {
		fmt.Fprintf(w, "error %s/%s: %s\n", e.Pod.Namespace, e.Pod.Name, e.Reason)
	}
}
