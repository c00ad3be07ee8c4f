package scheduling

import "testing"

// TestDomainList: a spread refusal names the domains holding the minimum sorted, at most 3.
func TestDomainList(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"us-east-1c"}, "us-east-1c"},
		{[]string{"us-east-1c", "us-east-1b"}, "us-east-1b and us-east-1c"},
		{[]string{"c", "a", "b"}, "a, b and c"},
		{[]string{"e", "d", "c", "b", "a"}, "a, b, c and 2 more"},
	} {
		if got := domainList(tc.in); got != tc.want {
			t.Errorf("domainList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
