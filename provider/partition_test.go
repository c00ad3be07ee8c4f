package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// TestPartitionFromARN checks the partition and DNS suffix taken from callers' ARNs, and the
// trust policy and default policy ARNs built from them.
func TestPartitionFromARN(t *testing.T) {
	for _, c := range []struct{ arn, partition, principal, policy string }{
		{"arn:aws:iam::111122223333:user/admin", "aws", "ec2.amazonaws.com", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
		{"arn:aws-cn:sts::111122223333:assumed-role/ops/session", "aws-cn", "ec2.amazonaws.com.cn", "arn:aws-cn:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
		{"arn:aws-us-gov:iam::111122223333:root", "aws-us-gov", "ec2.amazonaws.com", "arn:aws-us-gov:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
	} {
		p, err := partitionFromARN(c.arn)
		if err != nil {
			t.Fatalf("%s: %v", c.arn, err)
		}
		if p.Partition != c.partition || p.servicePrincipal("ec2") != c.principal || defaultNodePolicyARNs(p)[0] != c.policy {
			t.Errorf("%s: %+v, principal %s, policy %s", c.arn, p, p.servicePrincipal("ec2"), defaultNodePolicyARNs(p)[0])
		}
		if !strings.Contains(trustPolicyFor(p, "ec2"), `"Service":"`+c.principal+`"`) {
			t.Errorf("%s: trust policy %s", c.arn, trustPolicyFor(p, "ec2"))
		}
	}
	for _, bad := range []string{"not-an-arn", "arn:aws-mars:iam::111122223333:root"} {
		if _, err := partitionFromARN(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestControllerPolicyChinaPartition computes the controller role's policy as Create does, with
// STS (an HTTP server speaking the STS query protocol) naming a caller in the aws-cn partition:
// every ARN is arn:aws-cn:, the node role may be passed to ec2.amazonaws.com.cn only, no
// arn:aws: or ec2.amazonaws.com literal is left, and the IRSA audience stays sts.amazonaws.com
// (as EKS projects it in every partition). An unknown partition is an error.
func TestControllerPolicyChinaPartition(t *testing.T) {
	callerARN := "arn:aws-cn:iam::111122223333:user/ops"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Form.Get("Action") != "GetCallerIdentity" {
			http.Error(w, "unexpected action "+r.Form.Get("Action"), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
			`<Arn>%s</Arn><UserId>AIDAEXAMPLE</UserId><Account>111122223333</Account></GetCallerIdentityResult>`+
			`<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, callerARN)
	}))
	defer srv.Close()
	cfg := awssdk.Config{Region: "cn-north-1", BaseEndpoint: awssdk.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	r := &controllerRoleResource{c: &clients{region: "cn-north-1", sts: sts.NewFromConfig(cfg)}}
	m := controllerRoleModel{ClusterName: types.StringValue("cn"), NodeRoleARN: types.StringValue("arn:aws-cn:iam::111122223333:role/node")}
	doc, err := r.policy(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	js := doc.JSON()
	for _, want := range []string{`"arn:aws-cn:ec2:cn-north-1:*:instance/*"`, `"arn:aws-cn:ssm:cn-north-1::parameter/aws/service/bottlerocket/*"`,
		`"arn:aws-cn:eks:cn-north-1:111122223333:cluster/cn"`, `"iam:PassedToService":"ec2.amazonaws.com.cn"`} {
		if !strings.Contains(js, want) {
			t.Errorf("policy lacks %s: %s", want, js)
		}
	}
	if strings.Contains(js, "arn:aws:") || strings.Contains(js, `ec2.amazonaws.com"`) {
		t.Errorf("policy keeps an aws-partition literal: %s", js)
	}
	trust := OIDCTrustPolicy("arn:aws-cn:iam::111122223333:oidc-provider/oidc.eks.cn-north-1.amazonaws.com.cn/id/X",
		"https://oidc.eks.cn-north-1.amazonaws.com.cn/id/X", "karpenter", "karpenter").JSON()
	if !strings.Contains(trust, `"oidc.eks.cn-north-1.amazonaws.com.cn/id/X:aud":"sts.amazonaws.com"`) {
		t.Errorf("trust policy audience: %s", trust)
	}
	callerARN = "arn:aws-mars:iam::111122223333:user/ops"
	if _, err := (&controllerRoleResource{c: &clients{region: "cn-north-1", sts: sts.NewFromConfig(cfg)}}).policy(context.Background(), m); err == nil ||
		!strings.Contains(err.Error(), `unknown partition "aws-mars"`) {
		t.Errorf("unknown partition: err %v", err)
	}
}
