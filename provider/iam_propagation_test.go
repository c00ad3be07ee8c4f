package provider

import (
	"context"
	"errors"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestAccIAMPropagation makes the emulator's IAM eventually consistent (new roles unusable
// for 3 s, as AWS's may be) and checks that a role created directly cannot be put into a
// profile at once, while the node role, its policies and the instance profile created in one
// apply succeed by retrying.
func TestAccIAMPropagation(t *testing.T) {
	testAccPreCheck(t)
	env := startEmulator(t)
	env.e.SetIAMPropagationDelay(3 * time.Second)
	// The emulator really refuses a role that has not propagated.
	_, err := env.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("acc-fresh"), AssumeRolePolicyDocument: awssdk.String(ec2TrustPolicy)})
	must(t, err)
	_, err = env.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: awssdk.String("acc-fresh")})
	must(t, err)
	_, err = env.iam.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: awssdk.String("acc-fresh"), RoleName: awssdk.String("acc-fresh")})
	if awsErrorCode(err) != "NoSuchEntity" {
		t.Fatalf("AddRoleToInstanceProfile with a role created just now: %v, want NoSuchEntity", err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{Config: `resource "karpenter_node_role" "a" {
  name = "acc-propagation"
}
resource "karpenter_instance_profile" "test" {
  name = "acc-propagation"
  role = karpenter_node_role.a.name
}
`, Check: resource.TestCheckResourceAttr("karpenter_instance_profile.test", "role", "acc-propagation")}},
	})
}

// TestRetryPropagation checks which errors are retried and that the context bounds the retries.
func TestRetryPropagation(t *testing.T) {
	calls := 0
	err := retryPropagation(context.Background(), func(context.Context) error {
		calls++
		if calls < 2 {
			return &smithy.GenericAPIError{Code: "NoSuchEntity", Message: "The role with name x cannot be found."}
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("err %v after %d calls, want nil after 2", err, calls)
	}
	calls = 0
	denied := &smithy.GenericAPIError{Code: "AccessDenied"}
	if err := retryPropagation(context.Background(), func(context.Context) error { calls++; return denied }); !errors.Is(err, denied) || calls != 1 {
		t.Fatalf("AccessDenied: %v after %d calls, want it at once", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = retryPropagation(ctx, func(context.Context) error { return &smithy.GenericAPIError{Code: "MalformedPolicyDocument"} })
	if awsErrorCode(err) != "MalformedPolicyDocument" {
		t.Fatalf("cancelled: %v, want the last error", err)
	}
}
