package aws

// SSM emulation (awsJson1.1 protocol, X-Amz-Target: AmazonSSM.<Operation>): GetParameter and
// GetParameters for the public node AMI parameters of the AL2, Bottlerocket and Ubuntu families
// (SeedAMIs' SSMPath with the cluster's Kubernetes version substituted, e.g.
// /aws/service/eks/optimized-ami/1.37/amazon-linux-2/recommended/image_id). Shapes follow the
// aws-sdk-go-v2 SSM client (service/ssm request_snapshot/response_snapshot); errors are
// {"__type": code, "message": ...} with HTTP 400, as the SDK's awsjson error deserializer reads.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

const ssmContentType = "application/x-amz-json-1.1"

type ssmParameter struct {
	Name             string  `json:"Name"`
	Type             string  `json:"Type"`
	Value            string  `json:"Value"`
	Version          int64   `json:"Version"`
	Selector         string  `json:"Selector,omitempty"`
	LastModifiedDate float64 `json:"LastModifiedDate"` // epoch seconds
	ARN              string  `json:"ARN"`
	DataType         string  `json:"DataType"`
}

func writeSSMError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", ssmContentType)
	w.Header().Set("X-Amzn-RequestId", newRequestID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

// ssmParameters returns the public parameters of the account: each SeedAMIs path for
// Options.KubernetesVersion -> AMI ID.
func (e *Emulator) ssmParameters() map[string]string {
	out := make(map[string]string, len(SeedAMIs))
	for _, a := range SeedAMIs {
		out[fmt.Sprintf(a.SSMPath, e.opts.KubernetesVersion)] = a.ID
	}
	return out
}

// ssmLookup resolves a parameter name (path, optionally ":<version>" selector, or a parameter
// ARN) to the parameter, or ok=false.
func (e *Emulator) ssmLookup(name string) (ssmParameter, bool) {
	prefix := e.partition().ARN("ssm", e.opts.Region, "", "parameter")
	path := strings.TrimPrefix(name, prefix)
	selector := ""
	if i := strings.LastIndexByte(path, ':'); i >= 0 {
		path, selector = path[:i], path[i:]
		if selector != ":1" { // every seeded parameter has exactly version 1
			return ssmParameter{}, false
		}
	}
	v, ok := e.ssmParameters()[path]
	if !ok {
		return ssmParameter{}, false
	}
	return ssmParameter{
		Name: path, Type: "String", Value: v, Version: 1, Selector: selector,
		LastModifiedDate: float64(e.state.iam.created.Unix()),
		ARN:              prefix + path, DataType: "text",
	}, true
}

// ssmResourceArn is the parameter ARN a GetParameter(s) name (path or ARN, with an optional
// ":<version>" selector, which is not part of the resource) is authorized against.
func (e *Emulator) ssmResourceArn(name string) string {
	prefix := e.partition().ARN("ssm", e.opts.Region, "", "parameter")
	path := strings.TrimPrefix(name, prefix)
	if i := strings.LastIndexByte(path, ':'); i >= 0 && strings.HasPrefix(path, "/") {
		path = path[:i]
	}
	return prefix + path
}

func (e *Emulator) serveSSM(w http.ResponseWriter, r *http.Request) {
	deny := func(action string, names []string) bool {
		for _, n := range names {
			aerr := e.authorize(r, "AccessDeniedException", action, e.ssmResourceArn(n), nil)
			if aerr == nil {
				continue
			}
			if aerr.Code != "AccessDeniedException" {
				aerr = jsonCredentialError(aerr)
			}
			writeSSMError(w, aerr.Status, aerr.Code, aerr.Message)
			return true
		}
		return false
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AmazonSSM.")
	if !ok || r.Method != http.MethodPost {
		writeSSMError(w, http.StatusBadRequest, "UnknownOperationException", "Missing or unknown X-Amz-Target: "+target)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes))
	if err != nil {
		writeSSMError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	switch op {
	case "GetParameter":
		var in struct {
			Name           *string
			WithDecryption *bool
		}
		if err := json.Unmarshal(body, &in); err != nil {
			writeSSMError(w, http.StatusBadRequest, "SerializationException", "Invalid request body: "+err.Error())
			return
		}
		if in.Name == nil || *in.Name == "" || len(*in.Name) > 2048 {
			writeSSMError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length between 1 and 2048")
			return
		}
		if deny("ssm:GetParameter", []string{*in.Name}) {
			return
		}
		p, found := e.ssmLookup(*in.Name)
		if !found {
			writeSSMError(w, http.StatusBadRequest, "ParameterNotFound", "Parameter "+*in.Name+" not found.")
			return
		}
		writeAWSJSON(w, ssmContentType, map[string]any{"Parameter": p})
	case "GetParameters":
		var in struct {
			Names          []string
			WithDecryption *bool
		}
		if err := json.Unmarshal(body, &in); err != nil {
			writeSSMError(w, http.StatusBadRequest, "SerializationException", "Invalid request body: "+err.Error())
			return
		}
		if len(in.Names) < 1 || len(in.Names) > 10 {
			writeSSMError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10, got "+strconv.Itoa(len(in.Names)))
			return
		}
		if deny("ssm:GetParameters", in.Names) {
			return
		}
		params, invalid := []ssmParameter{}, []string{}
		for _, n := range in.Names {
			if p, found := e.ssmLookup(n); found {
				params = append(params, p)
			} else {
				invalid = append(invalid, n)
			}
		}
		writeAWSJSON(w, ssmContentType, map[string]any{"Parameters": params, "InvalidParameters": invalid})
	default:
		writeSSMError(w, http.StatusBadRequest, "UnknownOperationException", "The emulator does not implement AmazonSSM."+op)
	}
}
