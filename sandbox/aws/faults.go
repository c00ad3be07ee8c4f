package aws

// Fault knobs: injected InsufficientInstanceCapacity per pool and request throttling, settable
// through the Go API on *Emulator and through the HTTP control API under /_sandbox/ so that a
// test in another process can drive them.
//
// Control API (JSON bodies, 127.0.0.1 only like the emulator itself):
//
//	GET    /_sandbox/faults                 current knobs: {"capacity":[...],"throttle":[...]}
//	DELETE /_sandbox/faults                 clear every knob
//	POST   /_sandbox/faults/capacity        {"instanceType":"m5.*","zone":"us-east-1a","capacityType":"spot"}
//	DELETE /_sandbox/faults/capacity        clear capacity faults
//	POST   /_sandbox/faults/throttle        {"service":"ec2","next":3} or {"service":"ec2","fraction":0.5}
//	DELETE /_sandbox/faults/throttle        clear throttling
//	GET    /_sandbox/instances              JSON list of EC2 instances (see InstanceInfo)

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
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

type faultStore struct {
	capacity []CapacityFault
	throttle []*ThrottleFault
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

// ClearFaults removes every fault knob.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state.faults.capacity = nil
	e.state.faults.throttle = nil
}

// Faults is a snapshot of the knobs, as GET /_sandbox/faults returns it.
type Faults struct {
	Capacity []CapacityFault `json:"capacity"`
	Throttle []ThrottleFault `json:"throttle"`
}

// CurrentFaults returns a copy of the active knobs (Next shows the remaining throttled calls).
func (e *Emulator) CurrentFaults() Faults {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := Faults{Capacity: append([]CapacityFault{}, e.state.faults.capacity...), Throttle: []ThrottleFault{}}
	for _, t := range e.state.faults.throttle {
		out.Throttle = append(out.Throttle, ThrottleFault{Service: t.Service, Next: t.Next, Fraction: t.Fraction})
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
