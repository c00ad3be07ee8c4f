package faults

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestLeaderKilled runs two controller replicas with leader election (Lease
// default/karpenter-leader-election, controller-runtime's 15 s lease) and SIGKILLs the leader
// twice during a 50-pod burst, each time a random 0-1.5 s after it logged its first launch, and
// once during the scale-down, after it cordoned its first node; a killed replica is restarted
// at once, so two replicas run throughout. The standby must take over without launching twice.
func TestLeaderKilled(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 0x6c6561646572))
	e := newEnv(t, "leader", 12*time.Minute)
	start := time.Now()
	e.createProvisioner([]string{"spot"}, killCPULimit, smallNodes)
	rec := e.recordClaims()
	mon := e.startMonitor(killCPULimit)
	e.createDeployment(0, "1")
	var f figures

	replicas := map[string]*controller{}
	gen := 0
	startReplica := func(slot string) {
		gen++
		replicas[slot] = e.startController(fmt.Sprintf("%s-%d", slot, gen), "--leader-elect=true")
	}
	startReplica("a")
	startReplica("b")
	leader := func() string {
		var slot string
		e.waitFor(90*time.Second, "a leader", func() (bool, string) {
			for s, c := range replicas {
				if c.exited() {
					t.Fatalf("replica %s exited on its own", c.name)
				}
				if c.leading() {
					slot = s
					return true, ""
				}
			}
			return false, "no replica holds the lease yet"
		})
		return slot
	}
	// killLeader waits for the leader to log busy (a launch, or a node being drained), then
	// kills it a random 0-1.5 s later: mid-burst or mid-scale-down, not while it is idle.
	killLeader := func(what string, busy ...string) {
		t.Helper()
		wait := time.Now()
		slot := leader()
		took := time.Since(wait)
		c := replicas[slot]
		var said string
		e.waitFor(2*time.Minute, fmt.Sprintf("leader %s to log one of %q", c.name, busy), func() (bool, string) {
			for _, b := range busy {
				if c.logged(b) {
					said = b
					return true, ""
				}
			}
			return false, ""
		})
		life := time.Duration(rng.Int64N(int64(1500 * time.Millisecond)))
		time.Sleep(life)
		c.kill()
		running, _, _ := e.runningPods()
		f.kills++
		f.phases = append(f.phases, fmt.Sprintf("%s: leader %s killed %.1f s after it logged %q with %d pods Running (leading %.0f s after the wait for a leader began)",
			what, c.name, life.Seconds(), said, running, took.Seconds()))
		startReplica(slot)
	}

	// The burst arrives over about 20 s (5 pods every 2 s): the standby takes over (after the
	// 15 s lease) while pods are still coming.
	ramp := e.ramp(0, burst, 5, 2*time.Second)
	killLeader("burst", "launching node", "resuming the launch", "registered node")
	killLeader("burst", "launching node", "resuming the launch", "registered node")
	if err := ramp(); err != nil {
		t.Fatal(err)
	}
	e.waitRunning(burst, 4*time.Minute)
	final := e.waitConsistent(-1, 3*time.Minute)
	f.phases = append(f.phases, "burst settled: "+final.String())
	e.collect(&f, rec, mon, final, start)

	e.scale(0)
	killLeader("scale-down", "cordoned node")
	down := e.waitConsistent(0, 3*time.Minute)
	f.phases = append(f.phases, "scale-down settled: "+down.String())
	e.collect(&f, rec, mon, final, start)
	f.leaked += len(down.leaked)
	e.verify("leader-killed", f)
}
