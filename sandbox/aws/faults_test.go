package aws

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
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

// TestServerErrorFault: EC2 calls of the faulted action fail with 500 InternalError or 503
// Unavailable, other actions go through.
func TestServerErrorFault(t *testing.T) {
	e, _, url := startEC2(t, Options{})
	c := oneShot(url)
	ctx := context.Background()
	resp, err := http.Post(url+"/_sandbox/faults/error", "application/json", strings.NewReader(`{"action":"DescribeInstances","next":2}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("set error fault: %v %v", resp, err)
	}
	if _, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); err != nil {
		t.Fatalf("DescribeVpcs failed under a DescribeInstances fault: %v", err)
	}
	for i := range 2 {
		_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		var re *awshttp.ResponseError
		if apiCode(err) != "InternalError" || !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
			t.Fatalf("DescribeInstances call %d: %v, want 500 InternalError", i+1, err)
		}
	}
	if _, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatalf("third DescribeInstances (next=2 spent): %v", err)
	}
	if err := e.AddServerError(ServerErrorFault{Status: 503, Next: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); apiCode(err) != "Unavailable" {
		t.Fatalf("503 fault: %v, want Unavailable", err)
	}
	// The SDK's standard retryer retries a 5xx: a client with 3 attempts gets through one.
	if err := e.AddServerError(ServerErrorFault{Action: "Describe*", Next: 1}); err != nil {
		t.Fatal(err)
	}
	retrying := ec2.NewFromConfig(sdkConfig(), func(o *ec2.Options) { o.BaseEndpoint = awssdk.String(url) })
	if _, err := retrying.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); err != nil {
		t.Fatalf("retried call: %v", err)
	}
}

// TestServerErrorFaultAfterAction: with afterAction the launch happens although the caller
// gets InternalError (a lost response), and a retry with the same ClientToken finds the same
// instance; bad knobs are refused with the field named.
func TestServerErrorFaultAfterAction(t *testing.T) {
	e, _, url := startEC2(t, Options{})
	c := oneShot(url)
	ctx := context.Background()
	// A lost response: the instance is launched, the caller sees InternalError.
	if err := e.AddServerError(ServerErrorFault{Action: "RunInstances", Next: 1, AfterAction: true}); err != nil {
		t.Fatal(err)
	}
	in := &ec2.RunInstancesInput{MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), ImageId: awssdk.String(SeedAMIs[0].ID),
		InstanceType: "m5.large", ClientToken: awssdk.String("lost-response-1")}
	if _, err := c.RunInstances(ctx, in); apiCode(err) != "InternalError" {
		t.Fatalf("RunInstances with a lost response: %v, want InternalError", err)
	}
	launched := e.Instances()
	if len(launched) != 1 {
		t.Fatalf("%d instances after a lost RunInstances response, want 1 (the action took effect)", len(launched))
	}
	again, err := c.RunInstances(ctx, in)
	if err != nil || len(again.Instances) != 1 || *again.Instances[0].InstanceId != launched[0].ID {
		t.Fatalf("retry with the same ClientToken: %+v %v, want instance %s", again, err, launched[0].ID)
	}
	if n := len(e.Instances()); n != 1 {
		t.Errorf("%d instances after the retry, want 1", n)
	}

	for _, bad := range []ServerErrorFault{{Status: 404, Next: 1}, {Next: -1}, {Fraction: 1.5}, {}, {Action: "[x", Next: 1}} {
		if err := e.AddServerError(bad); err == nil {
			t.Errorf("AddServerError(%+v) accepted", bad)
		}
	}
	for body, want := range map[string]int{`{"status":502,"next":1}`: 400, `{"action":"CreateFleet","fraction":0.5}`: 200, `{"nope":1}`: 400} {
		resp, err := http.Post(url+"/_sandbox/faults/error", "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != want {
			t.Errorf("POST error %s: %v %v, want %d", body, resp, err, want)
		}
	}
	if f := e.CurrentFaults(); len(f.Errors) != 1 || f.Errors[0].Action != "CreateFleet" || f.Errors[0].Fraction != 0.5 {
		t.Errorf("faults after the posts: %+v", f.Errors)
	}
	req, _ := http.NewRequest(http.MethodDelete, url+"/_sandbox/faults/error", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE error faults: %v %v", resp, err)
	}
	if f := e.CurrentFaults(); len(f.Errors) != 0 {
		t.Errorf("error faults left after DELETE: %+v", f.Errors)
	}
}

// TestBootFault: an instance launched under a never-boot fault stays pending (next=1 spends
// it: the following launch boots), one under a delay fault boots after that delay rather than
// the emulator's.
func TestBootFault(t *testing.T) {
	booted := make(chan string, 8)
	e, _, url := startEC2(t, Options{Hooks: Hooks{OnBoot: func(_ context.Context, i BootedInstance) error {
		booted <- i.InstanceID
		return nil
	}}})
	c := oneShot(url)
	ctx := context.Background()
	resp, err := http.Post(url+"/_sandbox/faults/boot", "application/json", strings.NewReader(`{"instanceType":"m5.*","never":true,"next":1}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("set boot fault: %v %v", resp, err)
	}
	run := func() string {
		t.Helper()
		out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1),
			ImageId: awssdk.String(SeedAMIs[0].ID), InstanceType: "m5.large"})
		if err != nil {
			t.Fatal(err)
		}
		return *out.Instances[0].InstanceId
	}
	stuck := run()
	next := run() // the knob is spent: no boot delay
	select {
	case id := <-booted:
		if id != next {
			t.Fatalf("booted %s, want %s (%s must never boot)", id, next, stuck)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the launch after the spent never-boot fault did not boot")
	}
	if f := e.CurrentFaults(); len(f.Boot) != 0 {
		t.Errorf("boot fault with next=1 not spent: %+v", f.Boot)
	}
	if err := e.AddBootFault(BootFault{Delay: Duration(300 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	delayed := run()
	select {
	case id := <-booted:
		if id != delayed || time.Since(start) < 300*time.Millisecond {
			t.Fatalf("booted %s after %s, want %s after at least 300ms", id, time.Since(start), delayed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("delayed instance did not boot")
	}
	for _, i := range e.Instances() {
		if i.ID == stuck && i.State != "pending" {
			t.Errorf("never-booting instance %s is %s, want pending", stuck, i.State)
		}
	}
	for _, bad := range []BootFault{{}, {Never: true, Delay: Duration(time.Second)}, {Delay: Duration(-time.Second)}, {Never: true, Next: -1}, {InstanceType: "[", Never: true}} {
		if err := e.AddBootFault(bad); err == nil {
			t.Errorf("AddBootFault(%+v) accepted", bad)
		}
	}
	resp, err = http.Post(url+"/_sandbox/faults/boot", "application/json", strings.NewReader(`{"delay":"soon"}`))
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad delay: %v %v, want 400", resp, err)
	}
}
