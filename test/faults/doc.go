// Package faults is the fault suite of issue 7 §3: it drives the real sandbox (kube-apiserver,
// kube-scheduler, kube-controller-manager, kwok kubelets, the AWS emulator of sandbox/aws) and
// real `controller` processes of the project's binary ($KARPENTER_BIN, else one built from the
// module), and injects faults while pods scale up and down:
//
//   - TestControllerKilled: the controller process SIGKILLed at random points (math/rand/v2
//     PCG seeded with $FAULTS_SEED, default 7, logged) during 50-pod bursts and the
//     scale-downs between them, 30 kills;
//   - TestLeaderKilled: two replicas with leader election, the leader SIGKILLed mid-burst
//     (twice) and mid-scale-down;
//   - TestSlowAndStuckBoot: instance boots slower than the garbage collector's grace (the
//     emulator's boot fault) survive until they register; a boot that never completes loses
//     its claim and instance at the registration timeout and its pods get a new claim;
//   - TestEC2Faults: EC2 throttling and 5xx bursts, CreateFleet whose response is lost,
//     DescribeInstances failing after CreateFleet, the launch template deleted out of band and
//     insufficient capacity on every spot pool (on-demand allowed);
//   - TestDeadKubelet: the kubelets of two nodes with pods die (sandbox cluster.StopKubelet:
//     the node Lease is no longer renewed, no pod deletion is confirmed); one node deleted by
//     hand goes once its pods' grace has passed, the other is removed by node repair
//     (--not-ready-timeout) once kube-controller-manager has marked it not Ready; both
//     instances and claims go and the Deployment's pods run on new nodes;
//   - TestLaunchTemplateGC: launch templates the controller created are deleted once nothing
//     uses them, and templates it did not create never are (issue 7 §1).
//
// Every scenario ends with the same checks: every pod Running (or, after a scale-down, no
// node left), 0 leaked instances (every live instance has the NodeClaim its tag names and a
// Node with its provider ID; every claim has a live instance), 0 duplicate launches (no claim
// tag on two instances, across every instance the emulator ever launched for the scenario)
// and, where the provisioner has a cpu limit, the vCPUs of live instances never above it
// (sampled every 100ms). Figures are printed with t.Logf as "FIGURES <scenario>: ...".
//
// Run it with:
//
//	nice -n 19 env TF_ACC=1 KARPENTER_BIN=$PWD/bin/terraform-provider-karpenter go test -count=1 -v ./test/faults/
//
// Controller logs are kept in the sandbox's logs/ directory (faults-<scenario>-<replica>.log),
// which is kept when a test fails. Skipped under -short.
package faults
