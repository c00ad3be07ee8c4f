package aws

// Fault knobs: injected InsufficientInstanceCapacity per pool, request throttling, EC2 server
// errors (5xx, optionally after the action took effect, as a lost response) and slow or
// never-completing instance boots, settable through the Go API on *Emulator and through the
// HTTP control API under /_sandbox/ so that a test in another process can drive them.
//
// Control API (JSON bodies, 127.0.0.1 only like the emulator itself):
//
//	GET    /_sandbox/faults                 current knobs: {"capacity":[...],"throttle":[...]}
//	DELETE /_sandbox/faults                 clear every knob
//	POST   /_sandbox/faults/capacity        {"instanceType":"m5.*","zone":"us-east-1a","capacityType":"spot"}
//	DELETE /_sandbox/faults/capacity        clear capacity faults
//	POST   /_sandbox/faults/throttle        {"service":"ec2","next":3} or {"service":"ec2","fraction":0.5}
//	DELETE /_sandbox/faults/throttle        clear throttling
//	POST   /_sandbox/faults/error           {"action":"DescribeInstances","status":500,"next":2} or
//	                                        {"action":"CreateFleet","next":1,"afterAction":true}
//	DELETE /_sandbox/faults/error           clear server errors
//	POST   /_sandbox/faults/boot            {"instanceType":"*","delay":"45s"} or {"never":true,"next":1}
//	DELETE /_sandbox/faults/boot            clear boot faults
//	GET    /_sandbox/instances              JSON list of EC2 instances (see InstanceInfo)

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"time"
)

// CapacityFault names the pools that answer InsufficientInstanceCapacity. Each field is a
// shell pattern (path.Match syntax: "*", "m5.*", "us-east-1?"); empty means "*".
// CapacityType is "spot" or "on-demand" (or a pattern).
type CapacityFault struct {
	InstanceType string `json:"instanceType,omitempty"`
	Zone         string `json:"zone,omitempty"`
	CapacityType string `json:"capacityType,omitempty"`
}

// ThrottleFault makes calls to Service ("ec2", "iam", "sts", "eks", "ssm", "pricing"; "" or "*" for all)
// fail with the service's throttling error: the next Next calls, then (or otherwise) a Fraction
// (0..1) of calls, spread deterministically (every 1/Fraction-th call).
type ThrottleFault struct {
	Service  string  `json:"service,omitempty"`
	Next     int     `json:"next,omitempty"`
	Fraction float64 `json:"fraction,omitempty"`

	acc float64 // accumulated fraction; a call is throttled when it reaches 1
}

// ServerErrorFault makes EC2 calls whose Action matches (a path.Match pattern; "" or "*" for
// every action) fail with a server error: Status 500 answers InternalError, 503 Unavailable
// (source: EC2 API reference, "Common client and server errors"); 0 means 500. Which calls
// fail follows ThrottleFault: the next Next calls, then (or otherwise) a Fraction of them; a
// knob with Next only is removed once spent. With
// AfterAction the action takes effect first and its response is replaced by the error, as
// when a response is lost on the way back (the client cannot tell the call succeeded).
type ServerErrorFault struct {
	Action      string  `json:"action,omitempty"`
	Status      int     `json:"status,omitempty"`
	Next        int     `json:"next,omitempty"`
	Fraction    float64 `json:"fraction,omitempty"`
	AfterAction bool    `json:"afterAction,omitempty"`

	acc float64
}

// BootFault changes how instances launched while it is set boot: those whose type matches
// InstanceType (a path.Match pattern; "" for every type) stay pending for Delay instead of the
// emulator's boot delay, or, with Never, stay pending until terminated (their Node never
// joins). Next > 0 applies the fault to that many launched instances only, then it is spent;
// 0 applies it to every launch until cleared.
type BootFault struct {
	InstanceType string   `json:"instanceType,omitempty"`
	Delay        Duration `json:"delay,omitempty"`
	Never        bool     `json:"never,omitempty"`
	Next         int      `json:"next,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as a Go duration string ("45s").
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string ("45s", "2m"). Errors: not a string or not a duration.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"45s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

type faultStore struct {
	capacity []CapacityFault
	throttle []*ThrottleFault
	errors   []*ServerErrorFault
	boot     []*BootFault
}

func (s *faultStore) init(e *Emulator) {}

func patternMatch(pattern, s string) bool {
	if pattern == "" || pattern == "*" {
		return true
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

func validPattern(field, p string) error {
	if p == "" {
		return nil
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("%s: bad pattern %q: %w", field, p, err)
	}
	return nil
}

// insufficientCapacity reports whether the pool is faulted. Caller holds e.mu.
func (s *faultStore) insufficientCapacity(instanceType, zone, capacityType string) bool {
	for _, f := range s.capacity {
		if patternMatch(f.InstanceType, instanceType) && patternMatch(f.Zone, zone) && patternMatch(f.CapacityType, capacityType) {
			return true
		}
	}
	return false
}

// takeThrottle consumes one throttled call for service if a knob says so. Caller holds e.mu.
func (s *faultStore) takeThrottle(service string) bool {
	for _, t := range s.throttle {
		if !patternMatch(t.Service, service) {
			continue
		}
		if t.Next > 0 {
			t.Next--
			return true
		}
		if t.Fraction > 0 {
			t.acc += t.Fraction
			if t.acc >= 1 {
				t.acc--
				return true
			}
		}
	}
	return false
}

// takeServerError consumes one failing call of the EC2 action if a knob says so and returns
// the knob (nil: the call goes through). Caller holds e.mu.
func (s *faultStore) takeServerError(action string) *ServerErrorFault {
	for i, f := range s.errors {
		if !patternMatch(f.Action, action) {
			continue
		}
		if f.Next > 0 {
			f.Next--
			if f.Next == 0 && f.Fraction == 0 {
				s.errors = append(s.errors[:i:i], s.errors[i+1:]...) // spent
			}
			return f
		}
		if f.Fraction > 0 {
			f.acc += f.Fraction
			if f.acc >= 1 {
				f.acc--
				return f
			}
		}
	}
	return nil
}

// serverError reports whether this call of the EC2 action must fail with a server error, and
// with which status, code and message, and whether the action runs first (AfterAction). It
// consumes one slot of the knob when it says yes.
func (e *Emulator) serverError(action string) (fail bool, status int, code, msg string, after bool) {
	e.mu.Lock()
	f := e.state.faults.takeServerError(action)
	e.mu.Unlock()
	if f == nil {
		return false, 0, "", "", false
	}
	if f.Status == http.StatusServiceUnavailable {
		return true, f.Status, "Unavailable", "The server is overloaded and can't handle the request.", f.AfterAction
	}
	return true, http.StatusInternalServerError, "InternalError", "An internal error has occurred.", f.AfterAction
}

// bootFor returns how an instance of instanceType launched now boots: after delay, or never.
// ok is false when no boot fault matches (the emulator's own delay applies). It spends one
// "next N" slot of the matching knob. Caller holds e.mu.
func (s *faultStore) bootFor(instanceType string) (delay time.Duration, never, ok bool) {
	for i, f := range s.boot {
		if !patternMatch(f.InstanceType, instanceType) {
			continue
		}
		if f.Next > 0 {
			f.Next--
			if f.Next == 0 {
				s.boot = append(s.boot[:i:i], s.boot[i+1:]...)
			}
		}
		return time.Duration(f.Delay), f.Never, true
	}
	return 0, false, false
}

// throttled reports whether this call to service (e.g. "ec2", "iam") must be answered with the
// service's throttling error (EC2: 503 RequestLimitExceeded; IAM/STS: 400 Throttling). It
// consumes one "next N" slot when it says yes.
func (e *Emulator) throttled(service string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state.faults.takeThrottle(service)
}

// AddInsufficientCapacity makes launches into the matching pools fail with
// InsufficientInstanceCapacity until cleared. Errors name a malformed pattern's field.
func (e *Emulator) AddInsufficientCapacity(f CapacityFault) error {
	for _, c := range []struct{ field, p string }{{"instanceType", f.InstanceType}, {"zone", f.Zone}, {"capacityType", f.CapacityType}} {
		if err := validPattern(c.field, c.p); err != nil {
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.faults.capacity = append(e.state.faults.capacity, f)
	return nil
}

// ClearInsufficientCapacity removes every capacity fault.
func (e *Emulator) ClearInsufficientCapacity() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.faults.capacity = nil
}

// AddThrottle adds a throttling knob. Errors: negative Next, Fraction outside [0,1], neither set,
// or a malformed Service pattern.
func (e *Emulator) AddThrottle(t ThrottleFault) error {
	switch {
	case t.Next < 0:
		return fmt.Errorf("next: must be >= 0, got %d", t.Next)
	case t.Fraction < 0 || t.Fraction > 1:
		return fmt.Errorf("fraction: must be within [0,1], got %v", t.Fraction)
	case t.Next == 0 && t.Fraction == 0:
		return fmt.Errorf("next or fraction: one must be set")
	}
	if err := validPattern("service", t.Service); err != nil {
		return err
	}
	t.acc = 0
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.faults.throttle = append(e.state.faults.throttle, &t)
	return nil
}

// ClearThrottle removes every throttling knob.
func (e *Emulator) ClearThrottle() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.faults.throttle = nil
}

// AddServerError adds an EC2 server-error knob. Errors: Status other than 0, 500 or 503,
// negative Next, Fraction outside [0,1], neither set, or a malformed Action pattern.
func (e *Emulator) AddServerError(f ServerErrorFault) error {
	switch {
	case f.Status != 0 && f.Status != http.StatusInternalServerError && f.Status != http.StatusServiceUnavailable:
		return fmt.Errorf("status: must be 500 or 503 (or 0 for 500), got %d", f.Status)
	case f.Next < 0:
		return fmt.Errorf("next: must be >= 0, got %d", f.Next)
	case f.Fraction < 0 || f.Fraction > 1:
		return fmt.Errorf("fraction: must be within [0,1], got %v", f.Fraction)
	case f.Next == 0 && f.Fraction == 0:
		return fmt.Errorf("next or fraction: one must be set")
	}
	if err := validPattern("action", f.Action); err != nil {
		return err
	}
	f.acc = 0
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.faults.errors = append(e.state.faults.errors, &f)
	return nil
}

// ClearServerErrors removes every server-error knob.
func (e *Emulator) ClearServerErrors() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.faults.errors = nil
}

// AddBootFault adds a boot knob; the first matching knob decides an instance's boot. Errors:
// a negative Delay or Next, Delay together with Never, neither set, or a malformed
// InstanceType pattern.
func (e *Emulator) AddBootFault(f BootFault) error {
	switch {
	case f.Delay < 0:
		return fmt.Errorf("delay: must be >= 0, got %s", time.Duration(f.Delay))
	case f.Next < 0:
		return fmt.Errorf("next: must be >= 0, got %d", f.Next)
	case f.Never && f.Delay != 0:
		return fmt.Errorf("delay: must be unset with never")
	case !f.Never && f.Delay == 0:
		return fmt.Errorf("delay or never: one must be set")
	}
	if err := validPattern("instanceType", f.InstanceType); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.faults.boot = append(e.state.faults.boot, &f)
	return nil
}

// ClearBootFaults removes every boot knob (instances already launched keep their boot).
func (e *Emulator) ClearBootFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.faults.boot = nil
}

// ClearFaults removes every fault knob.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.faults.capacity = nil
	e.state.faults.throttle = nil
	e.state.faults.errors = nil
	e.state.faults.boot = nil
}

// Faults is a snapshot of the knobs, as GET /_sandbox/faults returns it.
type Faults struct {
	Capacity []CapacityFault    `json:"capacity"`
	Throttle []ThrottleFault    `json:"throttle"`
	Errors   []ServerErrorFault `json:"errors"`
	Boot     []BootFault        `json:"boot"`
}

// CurrentFaults returns a copy of the active knobs (Next shows the remaining throttled calls).
func (e *Emulator) CurrentFaults() Faults {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := Faults{Capacity: append([]CapacityFault{}, e.state.faults.capacity...), Throttle: []ThrottleFault{},
		Errors: []ServerErrorFault{}, Boot: []BootFault{}}
	for _, t := range e.state.faults.throttle {
		out.Throttle = append(out.Throttle, ThrottleFault{Service: t.Service, Next: t.Next, Fraction: t.Fraction})
	}
	for _, f := range e.state.faults.errors {
		out.Errors = append(out.Errors, ServerErrorFault{Action: f.Action, Status: f.Status, Next: f.Next, Fraction: f.Fraction, AfterAction: f.AfterAction})
	}
	for _, f := range e.state.faults.boot {
		out.Boot = append(out.Boot, *f)
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func decodeJSONBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

// serveFaultKind serves one /_sandbox/faults/<kind> path: POST adds the fault of type T in the
// JSON body (400 with the error when the body or the fault is invalid) and answers with the
// current faults; DELETE clears that kind (204); other methods get 405.
func serveFaultKind[T any](e *Emulator, w http.ResponseWriter, r *http.Request, add func(T) error, clear func()) {
	switch r.Method {
	case http.MethodPost:
		var f T
		if err := decodeJSONBody(r, &f); err != nil {
			writeJSONError(w, http.StatusBadRequest, "%v", err)
			return
		}
		if err := add(f); err != nil {
			writeJSONError(w, http.StatusBadRequest, "%v", err)
			return
		}
		writeJSON(w, http.StatusOK, e.CurrentFaults())
	case http.MethodDelete:
		clear()
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSONError(w, http.StatusMethodNotAllowed, "method %s not allowed on %s", r.Method, r.URL.Path)
	}
}

// serveControl is the /_sandbox/ control API (see the file comment).
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_sandbox/faults":
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, e.CurrentFaults())
		case http.MethodDelete:
			e.ClearFaults()
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSONError(w, http.StatusMethodNotAllowed, "method %s not allowed on %s", r.Method, r.URL.Path)
		}
	case "/_sandbox/faults/capacity":
		serveFaultKind(e, w, r, e.AddInsufficientCapacity, e.ClearInsufficientCapacity)
	case "/_sandbox/faults/throttle":
		serveFaultKind(e, w, r, e.AddThrottle, e.ClearThrottle)
	case "/_sandbox/faults/error":
		serveFaultKind(e, w, r, e.AddServerError, e.ClearServerErrors)
	case "/_sandbox/faults/boot":
		serveFaultKind(e, w, r, e.AddBootFault, e.ClearBootFaults)
	case "/_sandbox/instances":
		if r.Method != http.MethodGet {
			writeJSONError(w, http.StatusMethodNotAllowed, "method %s not allowed on %s", r.Method, r.URL.Path)
			return
		}
		writeJSON(w, http.StatusOK, e.Instances())
	default:
		writeJSONError(w, http.StatusNotFound, "no control endpoint %s", r.URL.Path)
	}
}
