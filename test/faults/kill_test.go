package faults

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard()) // the claim recorder's informer logs through controller-runtime
	sandboxtest.Options.StaticNodes = 0
	sandboxtest.Options.BootDelay = time.Second
	sandboxtest.Main(m)
}

// seed returns $FAULTS_SEED, else 7, and logs it: a failing run is replayed with the same kill
// points by setting it.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(7)
	if v := os.Getenv("FAULTS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("FAULTS_SEED=%q: not an unsigned integer", v)
		}
		s = n
	}
	t.Logf("seed %d (set FAULTS_SEED to replay)", s)
	return s
}

// burst is the number of pods (1 vCPU each) of a burst. smallNodes keeps nodes at 2 or 4
// vCPUs, so a burst needs many claims (17 nodes of 4 vCPUs hold 50 pods: 68 vCPUs) and the
// controller is killed while many launches are in flight. killCPULimit is the provisioner's
// cpu limit: what the worst packing needs (one pod per 2-vCPU node: 100 vCPUs), so every pod
// can run in the end whatever batches the kills split the burst into; a lower one was reached
// in a leader-kill run (80 vCPUs on 32 nodes for 48 pods) and left pods pending, as a limit
// must.
const (
	burst        = 50
	killCPULimit = 100
)

var smallNodes = v1alpha5.NodeSelectorRequirement{Key: v1alpha5.LabelInstanceCPU, Operator: corev1.NodeSelectorOpIn, Values: []string{"2", "4"}}

// figures are the counts a scenario reports.
type figures struct {
	kills                   int
	instances, claimsTagged int
	claimsSeen              int
	duplicates              map[string][]string
	untagged                []string
	leaked                  int
	maxCPU, limit           int64
	over                    []string
	seconds                 float64
	phases                  []string
}

// verify checks the figures of a scenario and logs them on one line.
func (e *env) verify(name string, f figures) {
	e.t.Helper()
	e.t.Logf("FIGURES %s: kills=%d instances_launched=%d claims_created=%d claims_with_instance=%d duplicate_launches=%d untagged_instances=%d leaked_instances=%d max_vcpu=%d limit_vcpu=%d samples_over_limit=%d seconds=%.0f",
		name, f.kills, f.instances, f.claimsSeen, f.claimsTagged, len(f.duplicates), len(f.untagged), f.leaked, f.maxCPU, f.limit, len(f.over), f.seconds)
	for _, p := range f.phases {
		e.t.Logf("  %s", p)
	}
	if len(f.duplicates) > 0 {
		e.t.Errorf("duplicate launches (claim -> instances): %v", f.duplicates)
	}
	if len(f.untagged) > 0 {
		e.t.Errorf("instances launched without a NodeClaim tag: %v", f.untagged)
	}
	if f.leaked > 0 {
		e.t.Errorf("%d leaked instances", f.leaked)
	}
	if len(f.over) > 0 {
		e.t.Errorf("live instances above the %d vCPU limit at %v", f.limit, f.over)
	}
	if f.claimsTagged > f.claimsSeen {
		e.t.Errorf("instances name %d claims, but only %d claims were ever created", f.claimsTagged, f.claimsSeen)
	}
}

// collect gathers the end-of-scenario figures: launches over the emulator's whole history for
// the scenario, the claims recorder, the monitor and the final consistency check.
func (e *env) collect(f *figures, rec *claimRecorder, mon *monitor, final consistency, start time.Time) {
	f.instances, f.claimsTagged, f.duplicates, f.untagged = e.launches()
	f.claimsSeen = rec.count()
	f.maxCPU, f.over = mon.result()
	f.limit = mon.limit
	f.leaked = len(final.leaked)
	f.seconds = time.Since(start).Seconds()
}

// TestControllerKilled SIGKILLs the only controller process (no leader election, so a new one
// starts at once) at random points: 10 times during a 50-pod burst, 10 times during the
// scale-down to 0 and 10 times during a second burst. A burst arrives over about 20 s (5 pods
// every 2 s) and the scale-down over about 10 s (10 pods every 2 s), so launches and drains go
// on through the kills. Every other kill comes at a random 0-5 s (bursts) or 0.5-8 s
// (scale-down) of the process's life; the others a random 0-1 s after the process logged a
// launch (bursts) or a cordon (scale-down), when one comes within 8 s: between the NodeClaim
// and CreateFleet, before the launch is recorded, mid-drain. After each phase a last process
// runs until the cluster settles.
func TestControllerKilled(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 0x6661756c7473))
	e := newEnv(t, "kill", 15*time.Minute)
	start := time.Now()
	e.createProvisioner([]string{"spot"}, killCPULimit, smallNodes)
	rec := e.recordClaims()
	mon := e.startMonitor(killCPULimit)
	e.createDeployment(0, "1")
	var f figures

	// killDuring ramps the Deployment from replicas from to to in steps of step every 2 s
	// while it kills.
	killDuring := func(what string, kills int, from, to, step int32, maxLife time.Duration, busyLog ...string) {
		t.Helper()
		phase := time.Now()
		ramp := e.ramp(from, to, step, 2*time.Second)
		var lives []string
		var busy, idle, starting, atLog int
		for k := range kills {
			c := e.startController("single", "--leader-elect=false")
			born := time.Now()
			if k%2 == 1 && c.waitLogged(8*time.Second, busyLog...) {
				atLog++
				time.Sleep(time.Duration(rng.Int64N(int64(time.Second))))
			} else {
				time.Sleep(time.Duration(rng.Int64N(int64(maxLife))))
			}
			if c.exited() {
				t.Fatalf("controller exited on its own during %s (see %s/faults-%s-single.log)", what, e.logDir, e.name)
			}
			c.kill()
			f.kills++
			lives = append(lives, strconv.FormatFloat(time.Since(born).Seconds(), 'f', 1, 64))
			switch {
			case c.logged("launching node") || c.logged("resuming the launch") || c.logged("cordoned node"):
				busy++
			case c.logged("starting workers"):
				idle++
			default:
				starting++
			}
		}
		if err := ramp(); err != nil {
			t.Fatalf("scaling during %s: %v", what, err)
		}
		f.phases = append(f.phases, fmt.Sprintf("%s: %d kills after %s s of life (%d right after a logged %q; %d while launching, resuming or draining, %d after start-up, %d during start-up); %.0f s",
			what, kills, strings.Join(lives, ","), atLog, busyLog, busy, idle, starting, time.Since(phase).Seconds()))
	}
	settle := func(what string, pods int) consistency {
		t.Helper()
		phase := time.Now()
		c := e.startController("single", "--leader-elect=false")
		defer c.kill()
		e.waitRunning(pods, 4*time.Minute)
		want := -1
		if pods == 0 {
			want = 0
		}
		got := e.waitConsistent(want, 3*time.Minute)
		f.phases = append(f.phases, what+" settled after the kills in "+strconv.FormatFloat(time.Since(phase).Seconds(), 'f', 0, 64)+" s: "+got.String())
		return got
	}

	killDuring("burst 1", 10, 0, burst, 5, 5*time.Second, "launching node", "resuming the launch")
	settle("burst 1", burst)
	killDuring("scale-down", 10, burst, 0, 10, 8*time.Second, "cordoned node")
	settle("scale-down", 0)
	killDuring("burst 2", 10, 0, burst, 5, 5*time.Second, "launching node", "resuming the launch")
	final := settle("burst 2", burst)

	e.collect(&f, rec, mon, final, start)
	e.verify("controller-killed", f)
	c := e.startController("single", "--leader-elect=false")
	defer c.kill()
	e.cleanup(3 * time.Minute)
}
