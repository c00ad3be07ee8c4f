// Package podidentity is the sandbox's EKS Pod Identity agent: an HTTP server on loopback
// that a pod's AWS SDK reaches through AWS_CONTAINER_CREDENTIALS_FULL_URI, sending its
// projected service-account token (audience pods.eks.amazonaws.com, read from
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) as the Authorization header. The agent exchanges the
// token with the EKS Auth API's AssumeRoleForPodIdentity, signed with the node's credentials,
// and answers with the container-credentials JSON the SDKs read (Amazon EKS User Guide,
// "Understand EKS Pod Identity"; aws-sdk-go-v2 credentials/endpointcreds). On EKS the agent is
// a DaemonSet on 169.254.170.23:80; the sandbox runs one on 127.0.0.1, an address the SDK
// accepts for plain HTTP.
package podidentity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// CredentialsPath is the agent's credentials path (EKS: http://169.254.170.23/v1/credentials).
const CredentialsPath = "/v1/credentials"

// SigningName is the SigV4 service name of the EKS Auth API.
const SigningName = "eks-auth"

// Credentials are temporary credentials from AssumeRoleForPodIdentity.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
	AssumedRoleARN                             string
	AssociationID                              string
}

// APIError is an error answer of the EKS Auth API (rest-json: X-Amzn-ErrorType and
// {"__type","message"}), with its HTTP status.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("eks-auth %s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// Client calls the EKS Auth API. aws-sdk-go-v2 has a service/eksauth client, but it is not in
// this module's dependency set; the one call is a SigV4-signed rest-json POST made with the
// SDK's signer.
type Client struct {
	Endpoint    string // base URL, e.g. https://eks-auth.us-east-1.api.aws or the emulator's
	Region      string
	Credentials aws.CredentialsProvider
	HTTPClient  interface { // default http.DefaultClient
		Do(*http.Request) (*http.Response, error)
	}
}

// AssumeRoleForPodIdentity exchanges a service-account token of cluster for the credentials of
// the role its Pod Identity association names. Errors: *APIError for an API answer (e.g.
// InvalidTokenException, ResourceNotFoundException when no association exists,
// AccessDeniedException when the role does not trust pods.eks.amazonaws.com), otherwise
// transport or signing errors.
func (c *Client) AssumeRoleForPodIdentity(ctx context.Context, cluster, token string) (*Credentials, error) {
	body, err := json.Marshal(map[string]string{"token": token})
	if err != nil {
		return nil, err
	}
	u := strings.TrimRight(c.Endpoint, "/") + "/clusters/" + url.PathEscape(cluster) + "/assume-role-for-pod-identity"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	creds, err := c.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("node credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), SigningName, c.Region, time.Now()); err != nil {
		return nil, err
	}
	var hc interface {
		Do(*http.Request) (*http.Response, error)
	} = http.DefaultClient
	if c.HTTPClient != nil {
		hc = c.HTTPClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b, &e)
		code := resp.Header.Get("X-Amzn-ErrorType")
		if code == "" {
			code = e.Type
		}
		code, _, _ = strings.Cut(code, ":")
		return nil, &APIError{Status: resp.StatusCode, Code: code, Message: e.Message}
	}
	var out struct {
		AssumedRoleUser struct {
			Arn string `json:"arn"`
		} `json:"assumedRoleUser"`
		PodIdentityAssociation struct {
			AssociationID string `json:"associationId"`
		} `json:"podIdentityAssociation"`
		Credentials struct {
			AccessKeyID     string  `json:"accessKeyId"`
			SecretAccessKey string  `json:"secretAccessKey"`
			SessionToken    string  `json:"sessionToken"`
			Expiration      float64 `json:"expiration"` // epoch seconds (rest-json timestamps)
		} `json:"credentials"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("eks-auth answer: %w", err)
	}
	cr := out.Credentials
	if cr.AccessKeyID == "" || cr.SecretAccessKey == "" || cr.SessionToken == "" {
		return nil, errors.New("eks-auth answer has no credentials")
	}
	return &Credentials{
		AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken,
		Expiration:     time.Unix(int64(cr.Expiration), 0).UTC(),
		AssumedRoleARN: out.AssumedRoleUser.Arn, AssociationID: out.PodIdentityAssociation.AssociationID,
	}, nil
}

// Agent serves GET /v1/credentials for the pods of one cluster.
type Agent struct {
	Client      *Client
	ClusterName string
	Log         *slog.Logger

	srv *http.Server
}

// Start listens on addr (a loopback address such as "127.0.0.1:0") and returns the URL pods
// put in AWS_CONTAINER_CREDENTIALS_FULL_URI.
func (a *Agent) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	a.srv = &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + CredentialsPath, nil
}

// Close stops the server.
func (a *Agent) Close() error {
	if a.srv == nil {
		return nil
	}
	return a.srv.Close()
}

// containerCredentials is the answer the SDKs' container credential providers parse.
type containerCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"` // RFC 3339
}

// ServeHTTP answers GET /v1/credentials: the Authorization header is the pod's token. Errors
// are {"code","message"} with the eks-auth status (400 when the header is missing).
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
	}
	if r.URL.Path != CredentialsPath || r.Method != http.MethodGet {
		fail(http.StatusNotFound, "NotFound", "the agent serves GET "+CredentialsPath)
		return
	}
	token := strings.TrimSpace(r.Header.Get("Authorization"))
	if token == "" {
		fail(http.StatusBadRequest, "InvalidTokenException", "the Authorization header must carry the service-account token")
		return
	}
	creds, err := a.Client.AssumeRoleForPodIdentity(r.Context(), a.ClusterName, token)
	if err != nil {
		a.log().Warn("pod identity: no credentials", "err", err)
		var ae *APIError
		if errors.As(err, &ae) {
			fail(ae.Status, ae.Code, ae.Message)
			return
		}
		fail(http.StatusInternalServerError, "ServiceUnavailableException", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(containerCredentials{
		AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, Token: creds.SessionToken,
		Expiration: creds.Expiration.Format(time.RFC3339),
	})
}

func (a *Agent) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}
