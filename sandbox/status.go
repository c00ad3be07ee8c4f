package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/proc"
)

// StatusFile is the daemon's status in its state directory: a DaemonStatus as JSON, written
// once the sandbox is ready (before ReadyFile) and rewritten, atomically, on every change of a
// control-plane component (exit, restart, give-up) and when the daemon starts stopping.
const StatusFile = "status.json"

// The values of DaemonStatus.State.
const (
	DaemonReady    = "ready"    // every component is running or being restarted
	DaemonDegraded = "degraded" // a component exited too often and is not restarted any more
	DaemonStopping = "stopping" // the daemon got SIGTERM or SIGINT and is stopping everything
)

// DaemonStatus is the content of StatusFile.
type DaemonStatus struct {
	PID         int       `json:"pid"`         // the daemon's process id
	State       string    `json:"state"`       // DaemonReady, DaemonDegraded or DaemonStopping
	Updated     time.Time `json:"updated"`     // when the file was written
	APIServer   string    `json:"apiServer"`   // https://127.0.0.1:<port>
	AWSEndpoint string    `json:"awsEndpoint"` // http://127.0.0.1:<port>
	// Components are etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok,
	// in start order: state, pid, restarts, last exit and log file of each.
	Components []proc.Status `json:"components"`
}

// daemonStatus is the status of the running sandbox s; stopping overrides the state.
func (s *Sandbox) daemonStatus(stopping bool) DaemonStatus {
	st := DaemonStatus{PID: os.Getpid(), State: DaemonReady, Updated: time.Now().UTC(), APIServer: s.Endpoint,
		AWSEndpoint: s.AWSEndpoint, Components: s.Cluster.Components()}
	for _, c := range st.Components {
		if c.State == proc.StateGaveUp {
			st.State = DaemonDegraded
		}
	}
	if stopping {
		st.State = DaemonStopping
	}
	return st
}

// writeStatus writes st to dir/StatusFile atomically (a temporary file renamed over it).
func writeStatus(dir string, st DaemonStatus) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, StatusFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, StatusFile))
}

// readStatus reads dir/StatusFile. Errors: the file is missing (os.ErrNotExist) or not JSON.
func readStatus(dir string) (*DaemonStatus, error) {
	b, err := os.ReadFile(filepath.Join(dir, StatusFile))
	if err != nil {
		return nil, err
	}
	st := &DaemonStatus{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, StatusFile), err)
	}
	return st, nil
}

// health is what checkHealth found about the sandbox in dir.
type health struct {
	dir    string
	pid    int           // the daemon's pid (0: no pid file)
	daemon bool          // the daemon runs
	status *DaemonStatus // nil: not written yet (starting) or no daemon
	alive  []bool        // per status.Components: its pid is a live member of the daemon's process group
	readyz string        // the API server's /readyz answer, or why there is none
	aws    string        // "ok", or why the AWS emulator does not answer
	// problems say, one each, what is wrong; none when the sandbox is healthy.
	problems []string
	// final: a problem that waiting does not cure (no daemon, a component given up).
	final bool
}

// checkHealth looks at the sandbox in dir: the daemon's pid, its StatusFile, whether each
// component's process is alive, the API server's /readyz (through dir/kubeconfig) and whether
// the AWS emulator answers; each probe is bounded by 5 s.
func checkHealth(ctx context.Context, dir string) *health {
	h := &health{dir: dir}
	h.pid, h.daemon = daemonPID(dir)
	if !h.daemon {
		h.pid = 0
		h.problems, h.final = []string{"no sandbox is running in " + dir}, true
		return h
	}
	st, err := readStatus(dir)
	if err != nil {
		_, readyErr := os.Stat(filepath.Join(dir, ReadyFile))
		switch {
		case errors.Is(err, os.ErrNotExist) && readyErr != nil:
			h.problems = []string{"the sandbox is still starting (progress in " + filepath.Join(dir, ProgressFile) + ")"}
		case errors.Is(err, os.ErrNotExist):
			h.problems, h.final = []string{"its daemon writes no " + StatusFile + " (started by an older version?)"}, true
		default:
			h.problems = []string{err.Error()}
		}
		return h
	}
	h.status = st
	if st.State == DaemonStopping {
		h.problems, h.final = append(h.problems, "the sandbox is stopping"), true
	}
	for _, c := range st.Components {
		alive := c.State == proc.StateRunning && inGroup(c.Pid, h.pid)
		h.alive = append(h.alive, alive)
		if p := componentProblem(c, alive); p != "" {
			h.problems = append(h.problems, p)
			h.final = h.final || c.State == proc.StateGaveUp
		}
	}
	h.readyz = readyz(ctx, filepath.Join(dir, "kubeconfig"))
	if h.readyz != "ok" {
		h.problems = append(h.problems, "kube-apiserver /readyz: "+h.readyz)
	}
	h.aws = answers(ctx, st.AWSEndpoint)
	if h.aws != "ok" {
		h.problems = append(h.problems, "AWS emulator: "+h.aws)
	}
	return h
}

// componentProblem says what is wrong with component c ("" if nothing); alive says whether
// its process was found.
func componentProblem(c proc.Status, alive bool) string {
	switch {
	case c.State == proc.StateGaveUp:
		return fmt.Sprintf("%s is down: it exited again after %d restarts (last: %s), so it is not restarted any more; see %s",
			c.Name, c.GaveUpAfter, lastExit(c.LastExit), c.LogPath)
	case c.State == proc.StateRestarting:
		return fmt.Sprintf("%s is down: it exited (%s) and restarts in %s; see %s", c.Name, lastExit(c.LastExit),
			max(time.Until(c.NextStart), 0).Round(time.Second), c.LogPath)
	case c.State != proc.StateRunning:
		return fmt.Sprintf("%s is %s", c.Name, c.State)
	case !alive:
		return fmt.Sprintf("%s (pid %d) is not running; the daemon restarts it; see %s", c.Name, c.Pid, c.LogPath)
	}
	return ""
}

// lastExit words an exit for people: "signal: killed (code 137) at 10:31:02 after 2m3s",
// "exit status 7 at 10:31:02 after 0s"; "-" for none.
func lastExit(e *proc.Exit) string {
	if e == nil {
		return "-"
	}
	what := e.Message
	if what != fmt.Sprintf("exit status %d", e.Code) {
		what += fmt.Sprintf(" (code %d)", e.Code)
	}
	return fmt.Sprintf("%s at %s after %s", what, e.FinishedAt.Local().Format(time.TimeOnly), e.FinishedAt.Sub(e.StartedAt).Round(time.Second))
}

// inGroup reports whether pid is a live process (not a zombie) of process group pgid.
func inGroup(pid, pgid int) bool {
	if pid <= 0 {
		return false
	}
	if g, err := syscall.Getpgid(pid); err != nil || g != pgid {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// readyz returns the API server's answer to /readyz ("ok" when ready), else the checks that
// failed ("not ready: [-]etcd failed: reason withheld") or why there is no answer.
func readyz(ctx context.Context, kubeconfig string) string {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err.Error()
	}
	cfg.Timeout = 5 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err.Error()
	}
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").Param("verbose", "true").Do(ctx).Raw()
	var failed []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "[-]") {
			failed = append(failed, l)
		}
	}
	switch {
	case len(failed) > 0:
		return "not ready: " + strings.Join(failed, ", ")
	case err != nil:
		return err.Error()
	}
	return "ok"
}

// answers returns "ok" if url answers HTTP at all (any status), else why not.
func answers(ctx context.Context, url string) string {
	if url == "" {
		return "no endpoint"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	_ = resp.Body.Close()
	return "ok"
}

// print writes h for people: the daemon line (its state, "but not healthy now" when h found
// problems), a table of the components (pid, "-" when none runs; state, restarts, last exit),
// the API server's and the AWS emulator's answers, and where the logs are.
func (h *health) print(out io.Writer) {
	if !h.daemon {
		return // the error says it
	}
	if h.status == nil {
		fmt.Fprintf(out, "sandbox in %s: daemon pid %d, starting\n", h.dir, h.pid)
		return
	}
	st := h.status
	state := string(st.State)
	if len(h.problems) > 0 && st.State == DaemonReady {
		state += ", but not healthy now" // the daemon's file says how it started; the problems follow
	}
	fmt.Fprintf(out, "sandbox in %s: daemon pid %d, %s (status of %s)\n", h.dir, h.pid, state, st.Updated.Local().Format(time.TimeOnly))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tPID\tSTATE\tRESTARTS\tLAST EXIT")
	for i, c := range st.Components {
		state := string(c.State)
		switch {
		case c.State == proc.StateRunning && !h.alive[i]:
			state = "exited"
		case c.State == proc.StateRestarting:
			state = "restarting now"
			if wait := time.Until(c.NextStart).Round(time.Second); wait > 0 {
				state = "restarting in " + wait.String()
			}
		}
		pid := "-" // no process runs: the last one's pid is no use
		if c.State == proc.StateRunning && h.alive[i] {
			pid = strconv.Itoa(c.Pid)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", c.Name, pid, state, c.Restarts, lastExit(c.LastExit))
	}
	_ = tw.Flush()
	for _, c := range st.Components {
		if c.State == proc.StateGaveUp {
			fmt.Fprintf(out, "%s was given up; %s ends:\n  %s\n", c.Name, c.LogPath, strings.ReplaceAll(tail(c.LogPath, 5), "\n", "\n  "))
		}
	}
	fmt.Fprintf(out, "kube-apiserver %s /readyz: %s\n", st.APIServer, h.readyz)
	fmt.Fprintf(out, "AWS emulator %s: %s\n", st.AWSEndpoint, h.aws)
	fmt.Fprintf(out, "logs: %s/<component>.log; daemon: %s\n", filepath.Join(h.dir, "logs"), filepath.Join(h.dir, DaemonLog))
}

// err is nil when h found nothing wrong, else an error listing the problems and what to do.
func (h *health) err() error {
	if len(h.problems) == 0 {
		return nil
	}
	if !h.daemon {
		return fmt.Errorf("no sandbox is running in %s (run `sandbox up`)", h.dir)
	}
	hint := "the daemon restarts what is down: ask again in a few seconds (`sandbox status --dir " + h.dir + "`)"
	if h.final {
		hint = "to start afresh: sandbox down --dir " + h.dir + ", then sandbox up"
	}
	return fmt.Errorf("the sandbox in %s (daemon pid %d) is not healthy:\n  %s\n%s", h.dir, h.pid, strings.Join(h.problems, "\n  "), hint)
}

// status prints the health of the sandbox in dir; the error says what is wrong (no daemon, a
// component down or given up, the API server not ready, the emulator not answering).
func status(ctx context.Context, out io.Writer, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	h := checkHealth(ctx, dir)
	h.print(out)
	return h.err()
}

// HealthWait bounds how long `sandbox up` waits for a running sandbox's components that are
// being restarted (or its API server) to come back before it reports them.
const HealthWait = time.Minute

// awaitHealthy waits up to HealthWait for the sandbox in dir to be healthy: nil once it is,
// else (at once for a component given up or a daemon gone) health.err's error.
func awaitHealthy(ctx context.Context, out io.Writer, dir string) error {
	deadline := time.Now().Add(HealthWait)
	said := false
	for {
		h := checkHealth(ctx, dir)
		if time.Now().After(deadline) {
			h.final = true // waiting did not help
		}
		if len(h.problems) == 0 || h.final {
			return h.err()
		}
		if !said {
			fmt.Fprintf(out, "the sandbox in %s is not healthy yet; waiting up to %s:\n  %s\n", dir, HealthWait, strings.Join(h.problems, "\n  "))
			said = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
