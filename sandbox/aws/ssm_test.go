package aws

import (
	"context"
	"errors"
	"fmt"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

func TestSSMGetParameter(t *testing.T) {
	ctx := context.Background()
	_, base, cfg := startEmulator(t, Options{KubernetesVersion: "1.37"})
	c := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = awssdk.String(base) })

	for _, a := range SeedAMIs {
		name := fmt.Sprintf(a.SSMPath, "1.37")
		out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: awssdk.String(name)})
		must(t, err)
		p := out.Parameter
		if *p.Value != a.ID || *p.Name != name || p.Type != ssmtypes.ParameterTypeString || p.Version != 1 || *p.ARN != "arn:aws:ssm:us-east-1::parameter"+name {
			t.Errorf("%s = %+v", name, p)
		}
	}
	al2 := "/aws/service/eks/optimized-ami/1.37/amazon-linux-2/recommended/image_id"
	out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: awssdk.String("arn:aws:ssm:us-east-1::parameter" + al2)})
	must(t, err)
	if *out.Parameter.Value != SeedAMIs[0].ID {
		t.Errorf("by ARN = %s", *out.Parameter.Value)
	}

	// Another Kubernetes version has no parameters.
	_, err = c.GetParameter(ctx, &ssm.GetParameterInput{Name: awssdk.String("/aws/service/eks/optimized-ami/1.20/amazon-linux-2/recommended/image_id")})
	var pnf *ssmtypes.ParameterNotFound
	if !errors.As(err, &pnf) {
		t.Fatalf("error = %T %v, want *types.ParameterNotFound", err, err)
	}
	wantCode(t, err, "ParameterNotFound")

	many, err := c.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{al2, "/nope"}})
	must(t, err)
	if len(many.Parameters) != 1 || *many.Parameters[0].Value != SeedAMIs[0].ID || len(many.InvalidParameters) != 1 || many.InvalidParameters[0] != "/nope" {
		t.Errorf("GetParameters = %+v / %v", many.Parameters, many.InvalidParameters)
	}
}
