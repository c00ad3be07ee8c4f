package faults

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestLeaderKilled runs two controller replicas with leader election (Lease
// default/karpenter-leader-election, controller-runtime's 15 s lease) and SIGKILLs the leader
// twice during a 50-pod burst, each time a random 0.5-4 s after it took the lease (so mid-batch
// or mid-launch) and once during the scale-down; a killed replica is restarted at once, so two
// replicas run throughout. The standby must take over without launching twice.
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
	killLeader := func(what string) {
		t.Helper()
		wait := time.Now()
		slot := leader()
		took := time.Since(wait)
		life := 500*time.Millisecond + time.Duration(rng.Int64N(int64(3500*time.Millisecond)))
		time.Sleep(life)
		replicas[slot].kill()
		f.kills++
		f.phases = append(f.phases, fmt.Sprintf("%s: leader %s killed %.1f s after it was seen leading (lease taken %.0f s after the previous kill)",
			what, replicas[slot].name, life.Seconds(), took.Seconds()))
		startReplica(slot)
	}

	e.scale(burst)
	killLeader("burst")
	killLeader("burst")
	e.waitRunning(burst, 4*time.Minute)
	final := e.waitConsistent(-1, 3*time.Minute)
	f.phases = append(f.phases, "burst settled: "+final.String())
	e.collect(&f, rec, mon, final, start)

	e.scale(0)
	killLeader("scale-down")
	down := e.waitConsistent(0, 3*time.Minute)
	f.phases = append(f.phases, "scale-down settled: "+down.String())
	e.collect(&f, rec, mon, final, start)
	f.leaked += len(down.leaked)
	e.verify("leader-killed", f)
}
