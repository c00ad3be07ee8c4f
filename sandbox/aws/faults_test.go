package aws

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestControlAPIFaults(t *testing.T) {
	_, _, url := startEC2(t, Options{})
	do := func(method, path, body string) (*http.Response, Faults) {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var f Faults
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&f); err != nil {
				t.Fatal(err)
			}
		}
		return resp, f
	}
	if resp, f := do(http.MethodPost, "/_sandbox/faults/capacity", `{"instanceType":"m5.*","capacityType":"spot"}`); resp.StatusCode != 200 || len(f.Capacity) != 1 || f.Capacity[0].InstanceType != "m5.*" {
		t.Fatalf("add capacity fault: %d %+v", resp.StatusCode, f)
	}
	if resp, f := do(http.MethodPost, "/_sandbox/faults/throttle", `{"service":"iam","next":3}`); resp.StatusCode != 200 || len(f.Throttle) != 1 || f.Throttle[0].Next != 3 {
		t.Fatalf("add throttle: %d %+v", resp.StatusCode, f)
	}
	if _, f := do(http.MethodGet, "/_sandbox/faults", ""); len(f.Capacity) != 1 || len(f.Throttle) != 1 {
		t.Fatalf("get: %+v", f)
	}
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodPost, "/_sandbox/faults/capacity", `{"zone":"[x"}`, 400},
		{http.MethodPost, "/_sandbox/faults/capacity", `not json`, 400},
		{http.MethodPost, "/_sandbox/faults/throttle", `{"next":-1}`, 400},
		{http.MethodPost, "/_sandbox/faults/throttle", `{}`, 400},
		{http.MethodPut, "/_sandbox/faults", ``, 405},
		{http.MethodGet, "/_sandbox/nothing", ``, 404},
		{http.MethodDelete, "/_sandbox/faults/capacity", ``, 204},
	} {
		if resp, _ := do(c.method, c.path, c.body); resp.StatusCode != c.want {
			t.Errorf("%s %s %s: %d, want %d", c.method, c.path, c.body, resp.StatusCode, c.want)
		}
	}
	if _, f := do(http.MethodGet, "/_sandbox/faults", ""); len(f.Capacity) != 0 || len(f.Throttle) != 1 {
		t.Fatalf("after clearing capacity: %+v", f)
	}
}

func TestThrottleCountsPerService(t *testing.T) {
	e := New(Options{NoBootDelay: true})
	if err := e.AddThrottle(ThrottleFault{Service: "iam", Next: 2}); err != nil {
		t.Fatal(err)
	}
	if e.throttled("ec2") {
		t.Error("ec2 throttled by an iam knob")
	}
	// next=2: exactly the next two iam calls are throttled, the third goes through. Each
	// throttled call consumes a slot, so the calls are made in order, one per step.
	for i, want := range []bool{true, true, false} {
		if got := e.throttled("iam"); got != want {
			t.Errorf("iam call %d: throttled = %v, want %v (next=2 not honoured exactly)", i+1, got, want)
		}
	}
}
