// Package e2e drives the product end to end the way a user does: the sandbox through the
// built binary (`sandbox up|env|down`), Terraform through the terraform CLI (os/exec) with the
// freshly built provider installed from a local filesystem mirror, the workload through
// client-go, and the final checks through the AWS SDK against the sandbox's emulator.
//
// The demo (test/e2e/cmd/demo, `make demo`) and the end-to-end tests (e2e_test.go) run the same
// steps: see Demo. The scale scenario (Scale) backs the scale benchmark (`make bench`).
package e2e
