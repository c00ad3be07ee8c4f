package aws

import (
	"context"
	"errors"
	"strings"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
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
			var ae smithy.APIError
			if err != nil && errors.As(err, &ae) && notAuthorizedCodes[ae.ErrorCode()] {
				action := strings.ToLower(awsmiddleware.GetServiceID(ctx)) + ":" + middleware.GetOperationName(ctx)
				err = &cloudprovider.NotAuthorizedError{Action: action, Message: ae.ErrorMessage(), Err: err}
			}
			return out, md, err
		}), middleware.After)
}
