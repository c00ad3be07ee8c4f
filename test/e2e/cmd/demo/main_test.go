package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// Flag values are checked while parsing, before anything starts: a bad one is an error naming
// the flag and what is allowed, printed once.
func TestParseFlagsChecksValuesFirst(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--authentication-mode", "bogus"}, `invalid value "bogus" for flag -authentication-mode: must be CONFIG_MAP, API_AND_CONFIG_MAP or API`},
		{[]string{"--authentication-mode", ""}, `for flag -authentication-mode: must be CONFIG_MAP, API_AND_CONFIG_MAP or API`},
		{[]string{"--boot-delay", "-1s"}, `invalid value "-1s" for flag -boot-delay: want a duration of at least 0`},
		{[]string{"extra"}, `demo: unexpected arguments ["extra"]`},
	} {
		var out bytes.Buffer
		if _, err := parseFlags(c.args, &out); err == nil {
			t.Errorf("parseFlags(%q) accepted it", c.args)
		}
		if got := out.String(); strings.Count(got, c.want) != 1 {
			t.Errorf("parseFlags(%q) printed %q, want %q once", c.args, got, c.want)
		}
	}
}

func TestParseFlagsPassesSandboxArgs(t *testing.T) {
	var out bytes.Buffer
	o, err := parseFlags([]string{"--authentication-mode", "API", "--boot-delay", "10s", "--bin", "x"}, &out)
	if err != nil {
		t.Fatalf("parseFlags: %v\n%s", err, out.String())
	}
	if want := []string{"--authentication-mode", "API", "--boot-delay", "10s"}; !slices.Equal(o.cfg.SandboxArgs, want) || o.cfg.Bin != "x" {
		t.Fatalf("sandbox args %q, bin %q; want %q, x", o.cfg.SandboxArgs, o.cfg.Bin, want)
	}
}
