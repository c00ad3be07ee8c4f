package aws

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

func TestEKSDescribeCluster(t *testing.T) {
	ctx := context.Background()
	caPEM := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	_, base, cfg := startEmulator(t, Options{
		ClusterName: "demo", ClusterEndpoint: "https://127.0.0.1:6443", ClusterCA: caPEM,
		OIDCIssuerURL: "https://127.0.0.1:6443/sandbox", KubernetesVersion: "1.37", ServiceIPv4CIDR: "10.96.0.0/12",
	})
	c := eks.NewFromConfig(cfg, func(o *eks.Options) { o.BaseEndpoint = awssdk.String(base) })

	out, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("demo")})
	must(t, err)
	cl := out.Cluster
	if *cl.Name != "demo" || *cl.Arn != "arn:aws:eks:us-east-1:111122223333:cluster/demo" || cl.Status != ekstypes.ClusterStatusActive ||
		*cl.Version != "1.37" || *cl.Endpoint != "https://127.0.0.1:6443" || cl.CreatedAt == nil || cl.CreatedAt.IsZero() {
		t.Errorf("cluster = %+v", cl)
	}
	ca, err := base64.StdEncoding.DecodeString(*cl.CertificateAuthority.Data)
	if err != nil || string(ca) != string(caPEM) {
		t.Errorf("certificateAuthority.data = %q (%v)", ca, err)
	}
	if *cl.Identity.Oidc.Issuer != "https://127.0.0.1:6443/sandbox" {
		t.Errorf("issuer = %s", *cl.Identity.Oidc.Issuer)
	}
	v := cl.ResourcesVpcConfig
	if *v.VpcId != SeedVPCID || *v.ClusterSecurityGroupId != SeedClusterSecurityGroupID || len(v.SubnetIds) != len(SeedSubnets) || v.SubnetIds[0] != SeedSubnets[0].ID {
		t.Errorf("vpc config = %+v", v)
	}
	if *cl.KubernetesNetworkConfig.ServiceIpv4Cidr != "10.96.0.0/12" {
		t.Errorf("service CIDR = %s", *cl.KubernetesNetworkConfig.ServiceIpv4Cidr)
	}

	_, err = c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("other")})
	var rnf *ekstypes.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("DescribeCluster(other) error = %T %v, want *types.ResourceNotFoundException", err, err)
	}
	wantCode(t, err, "ResourceNotFoundException")

	list, err := c.ListClusters(ctx, &eks.ListClustersInput{MaxResults: awssdk.Int32(10)})
	must(t, err)
	if len(list.Clusters) != 1 || list.Clusters[0] != "demo" {
		t.Errorf("clusters = %v", list.Clusters)
	}
}
