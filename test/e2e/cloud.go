package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	sdkhttp "github.com/nodeform/terraform-provider-karpenter/awshttp"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Cloud is the AWS side of a sandbox seen through the real aws-sdk-go-v2 clients (endpoints
// from the sandbox's AWS_ENDPOINT_URL_<SERVICE>) and the emulator's control API.
type Cloud struct {
	EC2          *ec2.Client
	IAM          *iam.Client
	EKS          *eks.Client
	controlURL   string // base URL of the emulator (AWS_ENDPOINT_URL_EC2)
	httpClient   *http.Client
	ClusterName  string
	StaticTagKey string // tag key of the sandbox's own (static) node group instances
}

// NewCloud returns clients for the sandbox whose `sandbox env` variables are env.
func NewCloud(ctx context.Context, env map[string]string) (*Cloud, error) {
	region := env["AWS_REGION"]
	if region == "" {
		region = "us-east-1"
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(region), config.WithRetryMaxAttempts(10)}
	if env["AWS_ACCESS_KEY_ID"] != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"])))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, err
	}
	cfg.HTTPClient = sdkhttp.Wrap(cfg.HTTPClient)
	ec2URL, iamURL, eksURL := env["AWS_ENDPOINT_URL_EC2"], env["AWS_ENDPOINT_URL_IAM"], env["AWS_ENDPOINT_URL_EKS"]
	if ec2URL == "" || iamURL == "" || eksURL == "" {
		return nil, errors.New("AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL_IAM and AWS_ENDPOINT_URL_EKS must be set (sandbox env)")
	}
	return &Cloud{
		EC2:          ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(ec2URL) }),
		EKS:          eks.NewFromConfig(cfg, func(o *eks.Options) { o.BaseEndpoint = aws.String(eksURL) }),
		IAM:          iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(iamURL) }),
		controlURL:   strings.TrimRight(ec2URL, "/"),
		httpClient:   &http.Client{Timeout: 30 * time.Second},
		ClusterName:  env["CLUSTER_NAME"],
		StaticTagKey: "eks:nodegroup-name",
	}, nil
}

// Instance is one emulated EC2 instance as the control API (GET /_sandbox/instances, a JSON
// array; see sandbox/aws InstanceInfo) reports it.
type Instance struct {
	ID              string            `json:"id"`
	Type            string            `json:"instanceType"`
	Zone            string            `json:"zone"`
	CapacityType    string            `json:"capacityType"` // "spot" or "on-demand"
	State           string            `json:"state"`        // pending, running, shutting-down, terminated
	PriceUSDPerHour float64           `json:"priceUSDPerHour"`
	LaunchTime      time.Time         `json:"launchTime"`
	Tags            map[string]string `json:"tags"`
}

// Instances lists every instance the emulator holds through its control API.
func (c *Cloud) Instances(ctx context.Context) ([]Instance, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.controlURL+"/_sandbox/instances", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /_sandbox/instances: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /_sandbox/instances: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return DecodeInstances(body)
}

// DecodeInstances decodes the control API's instance list (a JSON array of objects), sorted by
// ID. Every instance must have an id.
func DecodeInstances(data []byte) ([]Instance, error) {
	var out []Instance
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("instance list: %w", err)
	}
	for i, in := range out {
		if in.ID == "" {
			return nil, fmt.Errorf("instance list[%d]: no id", i)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// LiveInstances returns the instances in state pending or running that are not the sandbox's
// own static node group (tag eks:nodegroup-name), queried with ec2:DescribeInstances.
func (c *Cloud) LiveInstances(ctx context.Context) ([]string, error) {
	var ids []string
	p := ec2.NewDescribeInstancesPaginator(c.EC2, &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ec2:DescribeInstances: %w", err)
		}
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				if hasTag(in.Tags, c.StaticTagKey) {
					continue
				}
				ids = append(ids, aws.ToString(in.InstanceId)+" ("+string(in.InstanceType)+", "+string(in.State.Name)+")")
			}
		}
	}
	return ids, nil
}

func hasTag(tags []ec2types.Tag, key string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return true
		}
	}
	return false
}

// DiscoveryTagged returns the subnets and security groups tagged karpenter.sh/discovery.
func (c *Cloud) DiscoveryTagged(ctx context.Context) ([]string, error) {
	filter := []ec2types.Filter{{Name: aws.String("tag-key"), Values: []string{v1alpha5.DiscoveryTagKey}}}
	var ids []string
	sp := ec2.NewDescribeSubnetsPaginator(c.EC2, &ec2.DescribeSubnetsInput{Filters: filter})
	for sp.HasMorePages() {
		page, err := sp.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ec2:DescribeSubnets: %w", err)
		}
		for _, s := range page.Subnets {
			ids = append(ids, aws.ToString(s.SubnetId))
		}
	}
	gp := ec2.NewDescribeSecurityGroupsPaginator(c.EC2, &ec2.DescribeSecurityGroupsInput{Filters: filter})
	for gp.HasMorePages() {
		page, err := gp.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ec2:DescribeSecurityGroups: %w", err)
		}
		for _, g := range page.SecurityGroups {
			ids = append(ids, aws.ToString(g.GroupId))
		}
	}
	return ids, nil
}

// RoleExists reports whether the IAM role exists (iam:GetRole; NoSuchEntity means no).
func (c *Cloud) RoleExists(ctx context.Context, name string) (bool, error) {
	_, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	return existence(err, "iam:GetRole "+name)
}

// InstanceProfileExists reports whether the instance profile exists (iam:GetInstanceProfile).
func (c *Cloud) InstanceProfileExists(ctx context.Context, name string) (bool, error) {
	_, err := c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
	return existence(err, "iam:GetInstanceProfile "+name)
}

func existence(err error, what string) (bool, error) {
	if err == nil {
		return true, nil
	}
	var nse *iamtypes.NoSuchEntityException
	if errors.As(err, &nse) {
		return false, nil
	}
	return false, fmt.Errorf("%s: %w", what, err)
}

// roleName returns the name of a role from its ARN (arn:aws:iam::<account>:role/<path>/<name>).
func roleName(arn string) string {
	return arn[strings.LastIndex(arn, "/")+1:]
}

// AuthenticationMode returns the cluster's access configuration authentication mode
// (CONFIG_MAP, API_AND_CONFIG_MAP or API), from eks:DescribeCluster.
func (c *Cloud) AuthenticationMode(ctx context.Context) (string, error) {
	out, err := c.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(c.ClusterName)})
	if err != nil {
		return "", fmt.Errorf("eks:DescribeCluster %s: %w", c.ClusterName, err)
	}
	if out.Cluster == nil || out.Cluster.AccessConfig == nil {
		return string(ekstypes.AuthenticationModeConfigMap), nil
	}
	return string(out.Cluster.AccessConfig.AuthenticationMode), nil
}

// AccessEntryType returns the type of the cluster's access entry for principalARN (e.g.
// EC2_LINUX), or "" when there is none (eks:DescribeAccessEntry answers
// ResourceNotFoundException).
func (c *Cloud) AccessEntryType(ctx context.Context, principalARN string) (string, error) {
	out, err := c.EKS.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(c.ClusterName), PrincipalArn: aws.String(principalARN)})
	var nf *ekstypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("eks:DescribeAccessEntry %s: %w", principalARN, err)
	case out.AccessEntry == nil:
		return "", fmt.Errorf("eks:DescribeAccessEntry %s: no accessEntry in the answer", principalARN)
	}
	return aws.ToString(out.AccessEntry.Type), nil
}

// PodIdentityAssociations returns the cluster's Pod Identity associations as
// "<namespace>/<service account> -> <role ARN>" (eks:ListPodIdentityAssociations, then
// eks:DescribePodIdentityAssociation for the role).
func (c *Cloud) PodIdentityAssociations(ctx context.Context) ([]string, error) {
	var out []string
	p := eks.NewListPodIdentityAssociationsPaginator(c.EKS, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(c.ClusterName)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("eks:ListPodIdentityAssociations: %w", err)
		}
		for _, a := range page.Associations {
			d, err := c.EKS.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
				ClusterName: aws.String(c.ClusterName), AssociationId: a.AssociationId})
			if err != nil {
				return nil, fmt.Errorf("eks:DescribePodIdentityAssociation %s: %w", aws.ToString(a.AssociationId), err)
			}
			out = append(out, aws.ToString(a.Namespace)+"/"+aws.ToString(a.ServiceAccount)+" -> "+aws.ToString(d.Association.RoleArn))
		}
	}
	sort.Strings(out)
	return out, nil
}
