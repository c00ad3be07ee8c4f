// Package awshttp is the HTTP client every aws-sdk-go-v2 client of this project uses.
//
// It works around a race in smithy-go (aws-sdk-go-v2 issues 1825 and 2737): the SDK closes a
// request body as soon as the response headers arrive, and its closed body then answers
// io.WriterTo with io.EOF as an error. When a server answers before net/http's write loop has
// made its final read of the body (a fast server, e.g. on loopback), the write loop takes that
// io.EOF for a write failure and closes the connection while the response body is being read:
// "failed to decode response body ... use of closed network connection". Hiding WriterTo makes
// the write loop use Read, where io.EOF means the end of the body.
package awshttp

import (
	"io"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Doer is aws.HTTPClient: anything with Do.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client wraps Base (the SDK's BuildableClient when nil).
type Client struct {
	Base Doer
}

// New returns a Client around the SDK's default BuildableClient.
func New() *Client { return &Client{Base: awshttp.NewBuildableClient()} }

// Wrap returns a Client around base (an aws.Config's HTTPClient after config.LoadDefaultConfig,
// which needs the SDK's own *BuildableClient to apply AWS_CA_BUNDLE and other transport
// settings, so wrap after loading). A nil base means the SDK's default client.
func Wrap(base Doer) *Client {
	if base == nil {
		return New()
	}
	if c, ok := base.(*Client); ok {
		return c
	}
	return &Client{Base: base}
}

// Do sends req through Base with its body reduced to Read and Close.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = readCloser{req.Body}
	}
	base := c.Base
	if base == nil {
		base = awshttp.NewBuildableClient()
	}
	return base.Do(req)
}

// readCloser exposes only Read and Close of the wrapped body.
type readCloser struct{ io.ReadCloser }
