package aws

// EKS emulation (rest-json protocol): DescribeCluster (GET /clusters/{name}) and ListClusters
// (GET /clusters) for the one cluster record the sandbox describes (access entries and Pod
// Identity associations are in eks_access.go). Shapes follow the
// aws-sdk-go-v2 EKS client (service/eks request_snapshot/response_snapshot); errors carry the
// code in the X-Amzn-ErrorType header and {"__type","message"} in the body, as the SDK's
// restjson1 error deserializer reads them.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

type eksCluster struct {
	Name                    string                 `json:"name"`
	Arn                     string                 `json:"arn"`
	CreatedAt               float64                `json:"createdAt"` // epoch seconds
	Version                 string                 `json:"version"`
	Endpoint                string                 `json:"endpoint"`
	RoleArn                 string                 `json:"roleArn"`
	ResourcesVpcConfig      eksVpcConfig           `json:"resourcesVpcConfig"`
	KubernetesNetworkConfig map[string]string      `json:"kubernetesNetworkConfig"`
	Identity                eksIdentity            `json:"identity"`
	Status                  string                 `json:"status"`
	CertificateAuthority    map[string]string      `json:"certificateAuthority"`
	PlatformVersion         string                 `json:"platformVersion"`
	Tags                    map[string]string      `json:"tags"`
	AccessConfig            map[string]interface{} `json:"accessConfig"`
}

type eksVpcConfig struct {
	SubnetIds              []string `json:"subnetIds"`
	SecurityGroupIds       []string `json:"securityGroupIds"`
	ClusterSecurityGroupId string   `json:"clusterSecurityGroupId"`
	VpcId                  string   `json:"vpcId"`
	EndpointPublicAccess   bool     `json:"endpointPublicAccess"`
	EndpointPrivateAccess  bool     `json:"endpointPrivateAccess"`
	PublicAccessCidrs      []string `json:"publicAccessCidrs"`
}

type eksIdentity struct {
	OIDC struct {
		Issuer string `json:"issuer"`
	} `json:"oidc"`
}

// writeRestJSONError writes a rest-json error: HTTP status, X-Amzn-ErrorType = code and
// {"__type": code, "message": msg}.
func writeRestJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.Header().Set("X-Amzn-RequestId", newRequestID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func writeAWSJSON(w http.ResponseWriter, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeRestJSONError(w, http.StatusInternalServerError, "ServerException", err.Error())
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("X-Amzn-RequestId", newRequestID())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// eksClusterRecord describes the sandbox's cluster: the local API server's endpoint and CA
// (certificateAuthority.data is the base64 of the CA PEM, as EKS returns it), the OIDC issuer,
// the seeded VPC, subnets and cluster security group.
func (e *Emulator) eksClusterRecord() eksCluster {
	o := e.opts
	c := eksCluster{
		Name:      o.ClusterName,
		Arn:       e.partition().ARN("eks", o.Region, o.AccountID, "cluster/"+o.ClusterName),
		CreatedAt: float64(e.state.iam.created.Unix()),
		Version:   o.KubernetesVersion,
		Endpoint:  o.ClusterEndpoint,
		RoleArn:   e.iamARN("role/" + o.ClusterName + "-cluster"),
		ResourcesVpcConfig: eksVpcConfig{
			SecurityGroupIds: []string{}, ClusterSecurityGroupId: SeedClusterSecurityGroupID, VpcId: SeedVPCID,
			EndpointPublicAccess: true, PublicAccessCidrs: []string{"0.0.0.0/0"},
		},
		KubernetesNetworkConfig: map[string]string{"serviceIpv4Cidr": o.ServiceIPv4CIDR, "ipFamily": "ipv4"},
		Status:                  "ACTIVE",
		CertificateAuthority:    map[string]string{"data": base64.StdEncoding.EncodeToString(o.ClusterCA)},
		PlatformVersion:         "eks.1",
		Tags:                    map[string]string{},
		AccessConfig:            map[string]interface{}{"authenticationMode": e.state.eks.authMode},
	}
	for _, s := range SeedSubnets {
		c.ResourcesVpcConfig.SubnetIds = append(c.ResourcesVpcConfig.SubnetIds, s.ID)
	}
	c.Identity.OIDC.Issuer = o.OIDCIssuerURL
	return c
}

func (e *Emulator) serveEKS(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	deny := func(action, resource string) bool {
		aerr := e.authorize(r, "AccessDeniedException", action, resource, nil)
		if aerr == nil {
			return false
		}
		if aerr.Code != "AccessDeniedException" {
			aerr = jsonCredentialError(aerr)
		}
		writeRestJSONError(w, aerr.Status, aerr.Code, aerr.Message)
		return true
	}
	if e.serveEKSAccess(w, r, deny) {
		return
	}
	switch {
	case r.Method == http.MethodGet && path == "/clusters":
		if deny("eks:ListClusters", "*") {
			return
		}
		// ListClusters: one cluster, so maxResults/nextToken never paginate.
		if mr := r.URL.Query().Get("maxResults"); mr != "" {
			if n, err := strconv.Atoi(mr); err != nil || n < 1 || n > 100 {
				writeRestJSONError(w, http.StatusBadRequest, "InvalidParameterException", "maxResults must be an integer between 1 and 100")
				return
			}
		}
		names := []string{}
		if e.opts.ClusterName != "" {
			names = append(names, e.opts.ClusterName)
		}
		writeAWSJSON(w, "application/json", map[string]any{"clusters": names})
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/clusters/") && !strings.Contains(path[len("/clusters/"):], "/"):
		name := path[len("/clusters/"):]
		if deny("eks:DescribeCluster", e.partition().ARN("eks", e.opts.Region, e.opts.AccountID, "cluster/"+name)) {
			return
		}
		if name == "" || name != e.opts.ClusterName {
			writeRestJSONError(w, http.StatusNotFound, "ResourceNotFoundException", "No cluster found for name: "+name+".")
			return
		}
		e.mu.Lock()
		c := e.eksClusterRecord()
		e.mu.Unlock()
		writeAWSJSON(w, "application/json", map[string]any{"cluster": c})
	default:
		writeRestJSONError(w, http.StatusNotFound, "NotFoundException", "The emulator does not implement "+r.Method+" "+r.URL.Path)
	}
}
