package awshttp_test

import (
	"context"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/nodeform/terraform-provider-karpenter/awshttp"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
)

// Without the wrapper, about 2-15% of these calls (responses of ~60 KiB from a loopback server)
// fail with "use of closed network connection"; with it, none may.
func TestNoClosedConnectionOnFastServer(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 300 calls")
	}
	e := aws.New(aws.Options{ClusterName: "awshttp-test"})
	url, err := e.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c := ec2.New(ec2.Options{
		Region: "us-east-1", BaseEndpoint: &url, RetryMaxAttempts: 1, HTTPClient: awshttp.New(),
		Credentials: credentials.NewStaticCredentialsProvider(aws.DefaultAdminAccessKeyID, aws.DefaultAdminSecretAccessKey, ""),
	})
	for i := 0; i < 300; i++ {
		if _, err := c.DescribeInstanceTypes(context.Background(), &ec2.DescribeInstanceTypesInput{MaxResults: awssdk.Int32(100)}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}
