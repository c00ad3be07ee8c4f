package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Step is one timed step of a run.
type Step struct {
	Name    string
	Seconds float64 // wall-clock duration
	Err     error   // nil when the step succeeded
	Notes   []string
}

// NodeRecord is one node the controller launched, with what the cloud charged for it.
type NodeRecord struct {
	Name            string
	InstanceID      string
	Type            string
	Zone            string
	CapacityType    string
	PriceUSDPerHour float64 // from the emulator's instance record; 0 when unknown
}

// WriteNodesJSON writes the nodes launched as a JSON array of NodeRecord to path. Errors are
// those of encoding/json and os.WriteFile.
func (t *Timeline) WriteNodesJSON(path string) error {
	data, err := json.MarshalIndent(t.Nodes, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// Timeline records the steps of a run in order, and the nodes launched.
type Timeline struct {
	Steps []Step
	Nodes []NodeRecord
	now   func() time.Time
}

// NewTimeline returns an empty timeline measured with now (nil: time.Now).
func NewTimeline(now func() time.Time) *Timeline {
	if now == nil {
		now = time.Now
	}
	return &Timeline{now: now}
}

// Run times fn as a step called name, prints "==> name" and the outcome to log (its seconds;
// "FAILED" and the error, or "interrupted" when the error wraps ErrInterrupted), records it and
// returns fn's error. fn may add notes through the *Step it receives.
func (t *Timeline) Run(log io.Writer, name string, fn func(*Step) error) error {
	fmt.Fprintf(log, "==> %s\n", name)
	start := t.now()
	st := Step{Name: name}
	st.Err = fn(&st)
	st.Seconds = t.now().Sub(start).Seconds()
	t.Steps = append(t.Steps, st)
	switch {
	case errors.Is(st.Err, ErrInterrupted):
		fmt.Fprintf(log, "<== %s interrupted after %.1fs\n", name, st.Seconds)
	case st.Err != nil:
		fmt.Fprintf(log, "<== %s FAILED after %.1fs: %v\n", name, st.Seconds, st.Err)
	default:
		fmt.Fprintf(log, "<== %s (%.1fs)\n", name, st.Seconds)
	}
	return st.Err
}

// Failed reports whether any step failed.
func (t *Timeline) Failed() bool {
	for _, s := range t.Steps {
		if s.Err != nil {
			return true
		}
	}
	return false
}

// AddNodes records launched nodes, replacing earlier records of the same node name.
func (t *Timeline) AddNodes(nodes ...NodeRecord) {
	for _, n := range nodes {
		replaced := false
		for i := range t.Nodes {
			if t.Nodes[i].Name == n.Name {
				t.Nodes[i], replaced = n, true
			}
		}
		if !replaced {
			t.Nodes = append(t.Nodes, n)
		}
	}
	sort.Slice(t.Nodes, func(i, j int) bool { return t.Nodes[i].Name < t.Nodes[j].Name })
}

// Write prints the timeline: one row per step (seconds, status), each step's notes, the total,
// then the nodes launched with type, zone, capacity type and USD/hour, and their sum.
func (t *Timeline) Write(w io.Writer) {
	fmt.Fprintln(w, "\nTimeline")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  STEP\tSECONDS\tRESULT")
	var total float64
	for _, s := range t.Steps {
		total += s.Seconds
		result := "ok"
		switch {
		case errors.Is(s.Err, ErrInterrupted):
			result = "interrupted"
		case s.Err != nil:
			result = "FAILED: " + firstLine(s.Err.Error())
		}
		fmt.Fprintf(tw, "  %s\t%.1f\t%s\n", s.Name, s.Seconds, result)
	}
	fmt.Fprintf(tw, "  total\t%.1f\t\n", total)
	_ = tw.Flush()
	for _, s := range t.Steps {
		if len(s.Notes) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n  %s:\n", s.Name)
		for _, n := range s.Notes {
			fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(n, "\n", "\n    "))
		}
	}
	fmt.Fprintf(w, "\nNodes launched: %d\n", len(t.Nodes))
	if len(t.Nodes) == 0 {
		return
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tINSTANCE\tTYPE\tZONE\tCAPACITY\tUSD/HOUR")
	var sum float64
	for _, n := range t.Nodes {
		sum += n.PriceUSDPerHour
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%.4f\n", n.Name, n.InstanceID, n.Type, n.Zone, n.CapacityType, n.PriceUSDPerHour)
	}
	fmt.Fprintf(tw, "  total\t\t\t\t\t%.4f\n", sum)
	_ = tw.Flush()
}
