package sandbox

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/proc"
)

// The status table shows a pid only for a process that runs, says when a restart is due (or
// that it is due now), and the daemon line does not call an unhealthy sandbox just "ready".
func TestStatusPrintsOnlyLivePIDs(t *testing.T) {
	h := &health{dir: "/d", pid: 10, daemon: true, readyz: "ok", aws: "ok",
		status: &DaemonStatus{State: DaemonReady, Updated: time.Now(), Components: []proc.Status{
			{Name: "etcd", Pid: 11, State: proc.StateRunning},
			{Name: "kube-scheduler", Pid: 12, State: proc.StateRestarting, Restarts: 1, NextStart: time.Now().Add(-time.Second)},
			{Name: "kwok", Pid: 13, State: proc.StateRestarting, Restarts: 2, NextStart: time.Now().Add(4500 * time.Millisecond)},
			{Name: "kube-apiserver", Pid: 14, State: proc.StateRunning},
		}},
		alive:    []bool{true, false, false, false},
		problems: []string{"kube-scheduler is being restarted"}}
	var out bytes.Buffer
	h.print(&out)
	for _, want := range []string{
		`(?m)^sandbox in /d: daemon pid 10, ready, but not healthy now `,
		`(?m)^etcd\s+11\s+running\s`,
		`(?m)^kube-scheduler\s+-\s+restarting now\s`,
		`(?m)^kwok\s+-\s+restarting in [45]s\s`,
		`(?m)^kube-apiserver\s+-\s+exited\s`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("status output does not match %s:\n%s", want, out.String())
		}
	}
	h.problems = nil
	out.Reset()
	h.print(&out)
	if strings.Contains(out.String(), "not healthy") {
		t.Errorf("a healthy sandbox is called unhealthy:\n%s", out.String())
	}
}
