// Package simulate is capacity planning without a cluster: it reads Kubernetes manifests
// (workloads, storage, Provisioners and optionally a dump of the cluster's nodes, pods and
// volumes), asks the
// controller's own cloud provider for the instance types (the sandbox's catalogue through the
// AWS emulator, or live EC2), runs the controller's solver (controller/scheduling.Solve) and
// prints the node plan: new nodes by type, zone and capacity type with their price, pods on
// existing nodes, pods that fit nowhere with the reason, and the total USD/hour beside the
// cost lower bound (scheduling.LowerBound).
//
// It is the `simulate` subcommand of the one binary; see docs/guides/simulate.md.
package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// Options are the subcommand's flags.
type Options struct {
	Files   []string // -f: workloads and Provisioners
	Nodes   []string // --nodes: the cluster (kubectl get nodes,pods,pvc,pv,storageclasses,csinodes -A -o yaml)
	Output  string   // -o: OutputTable or OutputJSON
	Catalog string   // --catalog: CatalogSandbox, CatalogAWS or CatalogAuto
	// FailOnUnschedulable (--fail-on-unschedulable) makes Run return *UnschedulableError,
	// after writing the plan, when a pod cannot be placed.
	FailOnUnschedulable bool
}

// UnschedulableExitCode is the exit status of simulate --fail-on-unschedulable when a pod
// cannot be placed: distinct from 1 (bad input or flags, the catalogue not opening), so that a
// capacity check in CI can tell a plan that leaves pods Pending from input it could not read.
const UnschedulableExitCode = 3

// UnschedulableError is Run's error under --fail-on-unschedulable when Pods pods of the plan
// cannot be placed (the plan is written first, with their reasons).
type UnschedulableError struct{ Pods int }

func (e *UnschedulableError) Error() string {
	what := fmt.Sprintf("%d pods cannot", e.Pods)
	if e.Pods == 1 {
		what = "1 pod cannot"
	}
	return what + " be placed (--fail-on-unschedulable): see UNSCHEDULABLE PODS, or unschedulable in -o json"
}

// ExitCode is UnschedulableExitCode.
func (e *UnschedulableError) ExitCode() int { return UnschedulableExitCode }

// noFileArgs refuses arguments, saying that files are given with -f (a user's first try is
// often "simulate workload.yaml").
func noFileArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unknown command %q for simulate: give each file with -f (simulate -f %s)", args[0], args[0])
	}
	return nil
}

// NewCommand returns the `simulate` subcommand.
func NewCommand() *cobra.Command {
	o := Options{}
	cmd := &cobra.Command{
		Use:   "simulate -f FILE [-f FILE ...] [--nodes FILE] [-o table|json] [--catalog sandbox|aws|auto] [--fail-on-unschedulable]",
		Short: "Plan the nodes a workload needs, and their price, without a cluster",
		Long: `Reads Kubernetes manifests (Deployments, StatefulSets, ReplicaSets, ReplicationControllers,
Jobs, Pods, DaemonSets, Namespaces, RuntimeClasses, PersistentVolumeClaims, PersistentVolumes, StorageClasses,
CSINodes and karpenter.sh/v1alpha5 Provisioners; multi-document YAML, JSON or List objects such
as kubectl get -o yaml output; other kinds are skipped with a warning), expands replicas into pods
(and StatefulSets' volumeClaimTemplates into claims) and runs the controller's solver on them.
Prints the new nodes by provisioner, instance type, zone and capacity type with USD/hour and
utilisation, pods placed on existing nodes (--nodes), every pod that fits nowhere with the
reason, and the placed pods whose topology spread the plan's final state breaks (at risk: kube-
scheduler may leave them Pending). -f and --nodes repeat; "-" reads stdin; a directory reads its *.yaml, *.yml and *.json
files; a file given twice, or an object given twice, is an error.

--catalog sandbox (default) uses the sandbox's EC2 catalogue; aws uses live EC2 through the
standard AWS configuration (AWS_REGION, credentials chain); auto uses aws when a region and
credentials are configured, else sandbox.`,
		Args:          noFileArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return Run(cmd.Context(), o, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.Files, "filename", "f", nil, "manifest file, directory or - for stdin (repeatable)")
	f.StringArrayVar(&o.Nodes, "nodes", nil, "the existing cluster, e.g. kubectl get nodes,pods,pvc,pv,storageclasses,csinodes -A -o yaml (repeatable)")
	f.StringVarP(&o.Output, "output", "o", OutputTable, "output format: table or json")
	f.StringVar(&o.Catalog, "catalog", CatalogSandbox, "instance types and prices: sandbox, aws or auto")
	f.BoolVar(&o.FailOnUnschedulable, "fail-on-unschedulable", false, fmt.Sprintf("exit with status %d, after the plan, when a pod cannot be placed", UnschedulableExitCode))
	return cmd
}

// Run reads the inputs, solves and writes the plan to out; warnings and notes go to errOut.
// Errors: no -f, a bad -o or --catalog (checked before any input is read, so such an error
// comes alone), unreadable or invalid input (file, line, field path, reason), the catalogue
// not opening, EC2 errors; with FailOnUnschedulable, *UnschedulableError after the plan.
func Run(ctx context.Context, o Options, stdin io.Reader, out, errOut io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if len(o.Files) == 0 {
		return errors.New("-f: give at least one manifest file (or - for stdin)")
	}
	if o.Output != OutputTable && o.Output != OutputJSON {
		return fmt.Errorf("-o: unknown output format %q (want %s or %s)", o.Output, OutputTable, OutputJSON)
	}
	if err := checkCatalogName(o.Catalog); err != nil {
		return err
	}
	w, err := Read(ctx, o.Files, o.Nodes, stdin)
	if w != nil {
		// Also beside errors: an unknown field is often the cause of an error (a misspelt or
		// misplaced key leaves a required one missing).
		warn(errOut, w, err == nil)
	}
	if err != nil {
		return err
	}
	cat, err := OpenCatalog(ctx, o.Catalog, errOut)
	if err != nil {
		return err
	}
	defer func() { _ = cat.Close() }()
	for _, s := range zoneWarnings(w, cat.Region, cat.Zones(), cat.TypeNames()) {
		fmt.Fprintln(errOut, "warning:", s)
	}
	in, err := solverInput(ctx, cat, w)
	if err != nil {
		return err
	}
	res, waves := solveInWaves(in, w.OrderedReady)
	if waves > 1 {
		fmt.Fprintf(errOut, "note: StatefulSets with podManagementPolicy OrderedReady (the default) create one pod at a time: "+
			"their pods were planned in %d batches, one ordinal each, every batch seeing the nodes planned before it\n", waves)
	}
	plan := BuildPlan(cat, w, res, scheduling.LowerBound(placedOnly(in, res)))
	if o.Output == OutputJSON {
		err = WriteJSON(out, plan)
	} else {
		err = WriteTable(out, plan)
	}
	if err == nil && o.FailOnUnschedulable && plan.Summary.Unschedulable > 0 {
		return &UnschedulableError{Pods: plan.Summary.Unschedulable}
	}
	return err
}

// solverInput assembles the solver's input: the pods, daemonsets and existing nodes read, and
// each provisioner with the catalogue's instance types for it and its usage.
func solverInput(ctx context.Context, cat *Catalog, w *Workload) (scheduling.Input, error) {
	in := scheduling.Input{Pods: w.Pods, Nodes: w.Nodes, DaemonSets: w.DaemonSets, NamespaceLabels: w.NamespaceLabels, Volumes: w.Volumes, Holds: w.Holds}
	for _, p := range w.Provisioners {
		types, err := cat.InstanceTypes(ctx, p)
		if err != nil {
			return in, err
		}
		in.Provisioners = append(in.Provisioners, scheduling.ProvisionerInput{Provisioner: p, InstanceTypes: types, Usage: w.Usage[p.Name]})
	}
	return in, nil
}

// warn prints w's warnings and skipped objects to errOut, and, when complete (the input was
// read without error), that there is no Provisioner if so.
func warn(errOut io.Writer, w *Workload, complete bool) {
	for _, s := range w.Warnings {
		fmt.Fprintln(errOut, "warning:", s)
	}
	for _, s := range w.Skipped {
		fmt.Fprintf(errOut, "warning: %s: skipped %s %s: %s\n", s.Source, s.Kind, s.Name, s.Reason)
	}
	if complete && len(w.Provisioners) == 0 {
		fmt.Fprintln(errOut, "warning: no Provisioner in the input: no new node can be planned")
	}
}

// placedOnly returns in with only the pods res places: the lower bound is for a plan placing
// those, as the one shown does. Pods it leaves unschedulable (provisioner limits, no type
// fits) would otherwise raise the bound above what the plan costs.
func placedOnly(in scheduling.Input, res *scheduling.Result) scheduling.Input {
	if len(res.Errors) == 0 {
		return in
	}
	unplaced := make(map[*corev1.Pod]bool, len(res.Errors))
	for _, e := range res.Errors {
		unplaced[e.Pod] = true
	}
	pods := make([]*corev1.Pod, 0, len(in.Pods))
	for _, p := range in.Pods {
		if !unplaced[p] {
			pods = append(pods, p)
		}
	}
	in.Pods = pods
	return in
}
