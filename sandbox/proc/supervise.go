package proc

import (
	"log/slog"
	"sync"
	"time"
)

// RestartPolicy says how a Supervisor restarts a process that exited. The zero value means the
// defaults below.
type RestartPolicy struct {
	// InitialBackoff is the wait before restarting after an exit (default 1 s); it doubles
	// after every restart, up to MaxBackoff (default 30 s).
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// ResetAfter: a process that ran at least this long is restarted after InitialBackoff
	// again (default 1 minute).
	ResetAfter time.Duration
	// MaxRestarts is how many restarts Window may hold (default 5 in 5 minutes): the exit that
	// would need one more makes the Supervisor give up (StateGaveUp) and restart no more.
	MaxRestarts int
	Window      time.Duration
}

// withDefaults fills in the zero fields of p.
func (p RestartPolicy) withDefaults() RestartPolicy {
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = time.Second
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 30 * time.Second
	}
	if p.ResetAfter <= 0 {
		p.ResetAfter = time.Minute
	}
	if p.MaxRestarts <= 0 {
		p.MaxRestarts = 5
	}
	if p.Window <= 0 {
		p.Window = 5 * time.Minute
	}
	return p
}

// State is where a supervised process is.
type State string

// The states of a supervised process.
const (
	StateRunning    State = "running"    // a process runs (Status.Pid)
	StateRestarting State = "restarting" // it exited; a new one starts at Status.NextStart
	StateGaveUp     State = "gave-up"    // it exited too often (RestartPolicy); none runs
	StateStopped    State = "stopped"    // Stop was called; none runs
)

// Status is a snapshot of a supervised process, as JSON in the sandbox's status file.
type Status struct {
	Name    string `json:"name"`    // Spec.Name
	LogPath string `json:"logPath"` // Spec.LogPath
	State   State  `json:"state"`
	// Pid is the running process's id, or the last one's when none runs.
	Pid int `json:"pid"`
	// StartedAt is when the process (the last one started) was started.
	StartedAt time.Time `json:"startedAt"`
	// Restarts counts the processes started after the first (also failed attempts).
	Restarts int `json:"restarts"`
	// LastExit is the last exit (nil: none yet).
	LastExit *Exit `json:"lastExit,omitempty"`
	// NextStart is when the next process starts (StateRestarting only).
	NextStart time.Time `json:"nextStart,omitzero"`
	// GaveUpAfter is the number of restarts within RestartPolicy.Window after which the last
	// exit made the supervisor give up (StateGaveUp only).
	GaveUpAfter int `json:"gaveUpAfter,omitzero"`
}

// Supervisor keeps a process of one Spec running: when it exits (other than through Stop) a
// new one is started with the same Spec after a backoff, until RestartPolicy gives up.
type Supervisor struct {
	spec    Spec
	policy  RestartPolicy
	log     *slog.Logger
	changed func()

	mu     sync.Mutex
	status Status
	grace  time.Duration // for the running process, set by Stop

	stopOnce sync.Once
	stop     chan struct{} // closed by Stop
	done     chan struct{} // closed when the supervising goroutine has returned
}

// Supervise takes over p, a process started by Start, and restarts it per policy from now on
// (if p has already exited, that is its first exit). log receives one line per exit, restart
// and give-up, naming the process's log file; nil discards. changed, if not nil, is called
// (from the supervising goroutine, without locks held) after every change of Status.
func Supervise(p *Process, policy RestartPolicy, log *slog.Logger, changed func()) *Supervisor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if changed == nil {
		changed = func() {}
	}
	s := &Supervisor{spec: p.Spec, policy: policy.withDefaults(), log: log, changed: changed,
		stop: make(chan struct{}), done: make(chan struct{}),
		status: Status{Name: p.Spec.Name, LogPath: p.Spec.LogPath, State: StateRunning, Pid: p.Pid(), StartedAt: p.StartedAt()}}
	go s.loop(p)
	return s
}

// Status returns a snapshot of the supervised process.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	if st.LastExit != nil {
		e := *st.LastExit
		st.LastExit = &e
	}
	return st
}

// Stop ends the supervision: no process is started any more (a pending restart is dropped)
// and the running one, if any, gets SIGTERM, up to grace, then SIGKILL. It returns once the
// process is gone; later calls return at once.
func (s *Supervisor) Stop(grace time.Duration) {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.grace = grace
		s.mu.Unlock()
		close(s.stop)
	})
	<-s.done
}

// Done is closed when the supervision has ended: after Stop, or when it gave up.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// update changes the status under the lock, then reports the change.
func (s *Supervisor) update(f func(st *Status)) {
	s.mu.Lock()
	f(&s.status)
	s.mu.Unlock()
	s.changed()
}

// loop waits for the current process (nil: the last start failed with startErr) to exit and
// restarts it, until Stop or the give-up.
func (s *Supervisor) loop(p *Process) {
	defer close(s.done)
	defer s.update(func(st *Status) {
		if st.State != StateGaveUp {
			st.State = StateStopped
		}
		st.NextStart = time.Time{}
	})
	pol := s.policy
	backoff := pol.InitialBackoff
	var restarts []time.Time // restarts within the window
	var startErr error
	for {
		var exit Exit
		if p != nil {
			select {
			case <-s.stop:
				s.mu.Lock()
				grace := s.grace
				s.mu.Unlock()
				_ = p.Stop(grace)
				return
			case <-p.Done():
			}
			exit = p.Exit()
		} else {
			now := time.Now()
			exit = Exit{StartedAt: now, FinishedAt: now, Code: -1, Message: startErr.Error()}
		}
		if exit.FinishedAt.Sub(exit.StartedAt) >= pol.ResetAfter {
			backoff = pol.InitialBackoff
		}
		now := time.Now()
		restarts = within(restarts, now.Add(-pol.Window))
		if len(restarts) >= pol.MaxRestarts {
			s.update(func(st *Status) { st.State, st.LastExit, st.GaveUpAfter = StateGaveUp, &exit, len(restarts) })
			s.log.Error("process keeps exiting; not restarting it any more", "process", s.spec.Name, "err", exit.Message,
				"restarts", len(restarts), "window", pol.Window, "log", s.spec.LogPath)
			return
		}
		s.update(func(st *Status) { st.State, st.LastExit, st.NextStart = StateRestarting, &exit, now.Add(backoff) })
		s.log.Warn("process exited; restarting it", "process", s.spec.Name, "err", exit.Message, "code", exit.Code,
			"restart_in", backoff, "log", s.spec.LogPath)
		t := time.NewTimer(backoff)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, pol.MaxBackoff)
		restarts = append(restarts, time.Now())
		p, startErr = Start(s.spec)
		s.update(func(st *Status) {
			st.Restarts++
			st.NextStart = time.Time{}
			if p != nil {
				st.State, st.Pid, st.StartedAt = StateRunning, p.Pid(), p.StartedAt()
			}
		})
		if p != nil {
			s.log.Info("process restarted", "process", s.spec.Name, "pid", p.Pid(), "restarts", s.Status().Restarts)
		} else {
			s.log.Warn("process could not be restarted", "process", s.spec.Name, "err", startErr)
		}
	}
}

// within drops the times before since from ts (which is in ascending order).
func within(ts []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(since) {
		i++
	}
	return ts[i:]
}
