// Package metrics holds the controller's Prometheus metrics. They are registered with
// controller-runtime's registry, so the manager's metrics endpoint (--metrics-port, path
// /metrics) serves them next to the controller-runtime and client-go metrics.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Namespace prefixes every metric of this controller.
const Namespace = "karpenter"

// Label names used by the metrics below.
const (
	LabelProvisioner  = "provisioner"
	LabelCapacityType = "capacity_type"
	LabelReason       = "reason"
)

var (
	// NodesCreated counts instances launched, by provisioner and capacity type.
	NodesCreated = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "nodes", Name: "created_total",
		Help: "Number of nodes launched, by provisioner and capacity type.",
	}, []string{LabelProvisioner, LabelCapacityType})

	// NodesTerminated counts nodes whose instance was terminated and finalizer removed, by
	// provisioner and capacity type.
	NodesTerminated = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "nodes", Name: "terminated_total",
		Help: "Number of nodes terminated, by provisioner and capacity type.",
	}, []string{LabelProvisioner, LabelCapacityType})

	// NodesDeprovisioned counts nodes the deprovisioner deleted, by provisioner and reason
	// ("emptiness", "expiration" or "unhealthy": node repair).
	NodesDeprovisioned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "deprovisioning", Name: "nodes_deleted_total",
		Help: "Number of nodes deleted by the deprovisioner, by provisioner and reason.",
	}, []string{LabelProvisioner, LabelReason})

	// InstancesGarbageCollected counts leaked instances (no Node after the grace period)
	// terminated by garbage collection.
	InstancesGarbageCollected = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "garbagecollection", Name: "instances_terminated_total",
		Help: "Number of instances without a Node terminated by garbage collection.",
	})

	// SchedulingDisagreements counts pods kube-scheduler did not bind to the Ready node the
	// solver planned them on within the grace period, by the node's provisioner ("" for nodes
	// the controller did not launch).
	SchedulingDisagreements = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "provisioner", Name: "scheduling_disagreements_total",
		Help: "Number of pods kube-scheduler did not bind to the node planned for them, by the node's provisioner.",
	}, []string{LabelProvisioner})

	// PodsPending is the number of pods the provisioner saw as unschedulable in its last batch.
	PodsPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "pods", Name: "pending",
		Help: "Number of unschedulable pods in the provisioner's last batch.",
	})

	// SolverDuration is the wall time (seconds) of one scheduling simulation.
	SolverDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "provisioner", Name: "scheduling_duration_seconds",
		Help:    "Duration of one scheduling simulation (solver run), in seconds.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1ms .. ~33s
	})

	// DecisionDuration is the wall time (seconds) from a provisioning batch closing to its last
	// launch call returning (to the plan when nothing is launched): listing, solving and
	// launching, the part of a pod's time to Running the controller decides.
	DecisionDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "provisioner", Name: "decision_duration_seconds",
		Help:    "Time from a provisioning batch closing to its last launch call returning, in seconds.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5ms .. ~41s
	})

	// CloudProviderDuration is the wall time (seconds) of cloud provider calls, by method.
	CloudProviderDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "cloudprovider", Name: "duration_seconds",
		Help:    "Duration of cloud provider calls, in seconds, by method.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5ms .. ~41s
	}, []string{"method"})
)

func init() {
	crmetrics.Registry.MustRegister(NodesCreated, NodesTerminated, NodesDeprovisioned,
		InstancesGarbageCollected, PodsPending, SolverDuration, DecisionDuration, CloudProviderDuration, SchedulingDisagreements)
}
