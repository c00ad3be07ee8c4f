package aws

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
)

// notAuthorizedCodes are the error codes AWS services answer a call the caller's policies do
// not allow with (EC2 API Reference "Error codes": UnauthorizedOperation; IAM/STS: AccessDenied;
// JSON services such as SSM, EKS and Pricing: AccessDeniedException).
var notAuthorizedCodes = map[string]bool{"UnauthorizedOperation": true, "AccessDenied": true, "AccessDeniedException": true}

// addNotAuthorizedMiddleware makes every call of a client built with it return a
// *cloudprovider.NotAuthorizedError (wrapping the SDK's error) when AWS refuses it for lack
// of permission, so callers can tell a missing permission from other failures with errors.As.
// It sits after the SDK's service metadata in the initialize step, so it sees the service
// and operation names and the final error after retries.
func addNotAuthorizedMiddleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("KarpenterNotAuthorized",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if _, ok := cloudprovider.AsCredentialsError(err); ok {
				// The credentials' source refused (its AccessDenied is not this call's).
				return out, md, err
			}
			var ae smithy.APIError
			if err != nil && errors.As(err, &ae) && notAuthorizedCodes[ae.ErrorCode()] {
				action := strings.ToLower(awsmiddleware.GetServiceID(ctx)) + ":" + middleware.GetOperationName(ctx)
				err = &cloudprovider.NotAuthorizedError{Action: action, Message: ae.ErrorMessage(), Err: err}
			}
			return out, md, err
		}), middleware.After)
}

// getIdentityID is the ID of the SDK clients' finalize middleware that resolves the call's
// credentials (the credentials cache, and on a miss the credential provider: STS
// AssumeRoleWithWebIdentity for IRSA, the container credentials endpoint for EKS Pod Identity).
const getIdentityID = "GetIdentity"

// identityResolvedKey marks, in a call's context, whether its GetIdentity step succeeded.
type identityResolvedKey struct{}

// addCredentialsErrorMiddleware returns an API option that makes every call of a client built
// with it return a *cloudprovider.CredentialsError (wrapping the SDK's error) when the call's
// credentials could not be obtained. It brackets the SDK's GetIdentity middleware: an error
// that comes back through the middleware before GetIdentity without passing the one after it
// was GetIdentity's own. endpoint describes the container credentials endpoint the
// configuration's credentials come from ("" for other sources; see credentialsEndpoint); it
// names the action when the error does not (a credential provider's own AWS call, e.g. STS
// AssumeRoleWithWebIdentity, names itself). Stacks without GetIdentity are left unchanged.
func addCredentialsErrorMiddleware(endpoint string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		if _, ok := stack.Finalize.Get(getIdentityID); !ok {
			return nil
		}
		before := middleware.FinalizeMiddlewareFunc("KarpenterCredentialsError",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				resolved := new(bool)
				out, md, err := next.HandleFinalize(context.WithValue(ctx, identityResolvedKey{}, resolved), in)
				if err != nil && !*resolved && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
					err = credentialsError(err, endpoint)
				}
				return out, md, err
			})
		after := middleware.FinalizeMiddlewareFunc("KarpenterCredentialsResolved",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if resolved, ok := ctx.Value(identityResolvedKey{}).(*bool); ok {
					*resolved = true
				}
				return next.HandleFinalize(ctx, in)
			})
		if err := stack.Finalize.Insert(before, getIdentityID, middleware.Before); err != nil {
			return err
		}
		return stack.Finalize.Insert(after, getIdentityID, middleware.After)
	}
}

// credentialsError classifies err, an error of the SDK's GetIdentity step, as a
// *cloudprovider.CredentialsError. The SDK wraps a credential provider's failure with
// fmt.Errorf %w at each layer ("get identity: get credentials: failed to refresh cached
// credentials, failed to retrieve credentials, <error>"), so errors.As reaches what is inside:
// an STS call's *smithy.OperationError (stscreds: AssumeRoleWithWebIdentity, AssumeRole)
// names the action; the API error inside it (or the container credentials endpoint's error,
// which implements smithy.APIError) gives code and message. Without an operation error the
// action is endpoint, else "credentials provider"; without an API error the message is the
// innermost error's text.
func credentialsError(err error, endpoint string) *cloudprovider.CredentialsError {
	ce := &cloudprovider.CredentialsError{Cloud: "AWS", Action: "credentials provider", Err: err}
	var oe *smithy.OperationError
	switch {
	case errors.As(err, &oe):
		ce.Action = strings.ToLower(oe.Service()) + ":" + oe.Operation()
	case endpoint != "":
		ce.Action = endpoint
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() != "" || ae.ErrorMessage() != "") {
		ce.Message = strings.TrimSpace(ae.ErrorMessage())
		if code := ae.ErrorCode(); code != "" && ce.Message != "" {
			ce.Message = code + ": " + ce.Message
		} else if code != "" {
			ce.Message = code
		}
		return ce
	}
	inner := err
	for u := errors.Unwrap(inner); u != nil; u = errors.Unwrap(inner) {
		inner = u
	}
	ce.Message = inner.Error()
	return ce
}

// Pod Identity agent addresses (EKS User Guide, "EKS Pod Identity agent") and the directory
// EKS mounts the agent's token in.
var podIdentityHosts = map[string]bool{"169.254.170.23": true, "fd00:ec2::23": true}

const podIdentityTokenDir = "pods.eks.amazonaws.com"

// credentialsEndpoint describes the container credentials endpoint cfg's credentials come from:
// "EKS Pod Identity credentials endpoint <url>" when the endpoint is the Pod Identity agent's
// (its address, or a token file under pods.eks.amazonaws.com/ as EKS mounts it), else
// "container credentials endpoint <url>"; "" when cfg's credentials come from elsewhere. The
// URL is read from AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI as the SDK does.
func credentialsEndpoint(cfg awssdk.Config) string {
	if cfg.Credentials == nil || !awssdk.IsCredentialsProvider(cfg.Credentials, (*endpointcreds.Provider)(nil)) {
		return ""
	}
	u := os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if rel := os.Getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); u == "" && rel != "" {
		u = "http://169.254.170.2" + rel
	}
	what := "container credentials endpoint"
	parsed, err := url.Parse(u)
	if (err == nil && podIdentityHosts[parsed.Hostname()]) ||
		strings.Contains(os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), "/"+podIdentityTokenDir+"/") {
		what = "EKS Pod Identity credentials endpoint"
	}
	return strings.TrimSpace(what + " " + u)
}
