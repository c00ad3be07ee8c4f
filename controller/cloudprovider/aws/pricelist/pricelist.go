// Package pricelist reads Linux on-demand EC2 prices from the AWS Price List Query API
// (pricing:GetProducts, service code AmazonEC2) with the aws-sdk-go-v2 pricing client. The
// controller refreshes its prices with it and hack/pricinggen generates the controller's
// fallback table with it, so both read the same documents the same way.
//
// Sources: "Using the AWS Price List Query API" and "Reading the service price list files"
// (AWS Billing and Cost Management user guide): the endpoints are us-east-1, eu-central-1 and
// ap-south-1 (cn-northwest-1 for the China regions) whatever region is priced; GetProducts
// returns FormatVersion aws_v1 documents, each a JSON object with product.attributes and
// terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit.USD.
package pricelist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	pricingtypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"
)

// ServiceCode is the Price List service code of EC2.
const ServiceCode = "AmazonEC2"

// FormatVersion is the only document format GetProducts answers in.
const FormatVersion = "aws_v1"

// PageSize is GetProducts' and GetAttributeValues' MaxResults (the API's maximum is 100).
const PageSize = 100

// maxUSDPerHour bounds a plausible hourly price (the dearest EC2 instances cost a few hundred
// USD an hour); anything above it, or infinite, is garbage.
const maxUSDPerHour = 1e5

// API is the subset of *pricing.Client this package calls; the real client satisfies it, so
// does any test double, and so do the SDK's paginator interfaces.
type API interface {
	GetProducts(ctx context.Context, in *pricing.GetProductsInput, optFns ...func(*pricing.Options)) (*pricing.GetProductsOutput, error)
	GetAttributeValues(ctx context.Context, in *pricing.GetAttributeValuesInput, optFns ...func(*pricing.Options)) (*pricing.GetAttributeValuesOutput, error)
}

// EndpointRegion returns the region of the Price List API endpoint nearest to region: the
// API is served only from us-east-1, eu-central-1 and ap-south-1 (and cn-northwest-1 for the
// China partition), and any of them prices every region of its partition.
func EndpointRegion(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "cn-northwest-1"
	case strings.HasPrefix(region, "eu-"), strings.HasPrefix(region, "me-"), strings.HasPrefix(region, "il-"), strings.HasPrefix(region, "af-"):
		return "eu-central-1"
	case strings.HasPrefix(region, "ap-"):
		return "ap-south-1"
	default:
		return "us-east-1"
	}
}

// NewClient returns a Price List client for pricing region from cfg: cfg's credentials,
// retryer, HTTP client and endpoint override (BaseEndpoint or AWS_ENDPOINT_URL_PRICING), with
// the client's region set to EndpointRegion(region) so that, without an override, the SDK
// resolves a real Price List endpoint whatever region the controller runs in.
func NewClient(cfg awssdk.Config, region string) *pricing.Client {
	return pricing.NewFromConfig(cfg, func(o *pricing.Options) { o.Region = EndpointRegion(region) })
}

// Filters are the GetProducts filters of OnDemandPrices for region: Linux, shared tenancy, no
// pre-installed software, capacity status Used (not a capacity reservation) and market option
// OnDemand (not a capacity block), so that each instance type matches one product.
func Filters(region string) []pricingtypes.Filter {
	term := func(field, value string) pricingtypes.Filter {
		return pricingtypes.Filter{Field: awssdk.String(field), Type: pricingtypes.FilterTypeTermMatch, Value: awssdk.String(value)}
	}
	return []pricingtypes.Filter{
		term("regionCode", region),
		term("operatingSystem", "Linux"),
		term("tenancy", "Shared"),
		term("preInstalledSw", "NA"),
		term("capacitystatus", "Used"),
		term("marketoption", "OnDemand"),
	}
}

// DocumentError is a price list document (or response) that does not have the aws_v1 shape;
// Index is the document's position in the response (-1 for the response itself).
type DocumentError struct {
	Index  int
	Reason string
}

func (e *DocumentError) Error() string {
	if e.Index < 0 {
		return "malformed GetProducts response: " + e.Reason
	}
	return fmt.Sprintf("malformed price list document %d: %s", e.Index, e.Reason)
}

// document is the part of an aws_v1 price list document this package reads.
type document struct {
	Product struct {
		SKU        string            `json:"sku"`
		Attributes map[string]string `json:"attributes"`
	} `json:"product"`
	Terms struct {
		OnDemand map[string]struct {
			PriceDimensions map[string]struct {
				Unit         string            `json:"unit"`
				PricePerUnit map[string]string `json:"pricePerUnit"`
			} `json:"priceDimensions"`
		} `json:"OnDemand"`
	} `json:"terms"`
}

// ParseOnDemand reads one aws_v1 price list document: the product's instanceType attribute
// and its on-demand price in USD/hour (terms.OnDemand, the one price dimension per hour,
// pricePerUnit.USD). Errors: not JSON, no instanceType, no or several on-demand prices, a unit
// other than hours, a price that is not a non-negative decimal number. A price of 0 is
// returned as is (the caller decides).
func ParseOnDemand(doc string) (instanceType string, usdPerHour float64, err error) {
	var d document
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return "", 0, fmt.Errorf("not JSON: %w", err)
	}
	instanceType = d.Product.Attributes["instanceType"]
	if instanceType == "" {
		return "", 0, fmt.Errorf("product %q has no instanceType attribute", d.Product.SKU)
	}
	var prices []string
	for _, term := range d.Terms.OnDemand {
		for _, dim := range term.PriceDimensions {
			if !strings.EqualFold(dim.Unit, "Hrs") {
				return "", 0, fmt.Errorf("%s: on-demand price unit %q, want Hrs", instanceType, dim.Unit)
			}
			usd, ok := dim.PricePerUnit["USD"]
			if !ok {
				return "", 0, fmt.Errorf("%s: on-demand price has no USD amount", instanceType)
			}
			prices = append(prices, usd)
		}
	}
	if len(prices) != 1 {
		return "", 0, fmt.Errorf("%s: %d on-demand prices, want 1", instanceType, len(prices))
	}
	usdPerHour, err = strconv.ParseFloat(prices[0], 64)
	if err != nil || usdPerHour < 0 || math.IsNaN(usdPerHour) || usdPerHour > maxUSDPerHour {
		return "", 0, fmt.Errorf("%s: on-demand price %q is not a USD amount", instanceType, prices[0])
	}
	return instanceType, usdPerHour, nil
}

// OnDemandPrices returns the Linux on-demand price (USD/hour) of every instance type the
// Price List API lists for region (GetProducts with Filters, every page). Products priced 0
// are left out (the API lists a few types that are not sold on demand with a zero price); a
// type listed twice keeps the higher price. Errors: API errors (wrapped, testable with
// errors.As for *pricingtypes.ThrottlingException and smithy.APIError), a *DocumentError for a
// response or document without the aws_v1 shape, and an error when no price at all is listed.
func OnDemandPrices(ctx context.Context, api API, region string) (map[string]float64, error) {
	out := map[string]float64{}
	pager := pricing.NewGetProductsPaginator(api, &pricing.GetProductsInput{
		ServiceCode:   awssdk.String(ServiceCode),
		Filters:       Filters(region),
		FormatVersion: awssdk.String(FormatVersion),
		MaxResults:    awssdk.Int32(PageSize),
	})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("pricing:GetProducts for %s in %s: %w", ServiceCode, region, err)
		}
		if v := awssdk.ToString(page.FormatVersion); v != "" && v != FormatVersion {
			return nil, &DocumentError{Index: -1, Reason: fmt.Sprintf("format version %q, want %s", v, FormatVersion)}
		}
		for i, doc := range page.PriceList {
			name, price, err := ParseOnDemand(doc)
			if err != nil {
				return nil, &DocumentError{Index: i, Reason: err.Error()}
			}
			if price > 0 && price > out[name] {
				out[name] = price
			}
		}
	}
	if len(out) == 0 {
		return nil, &DocumentError{Index: -1, Reason: fmt.Sprintf("no on-demand Linux price listed for region %s", region)}
	}
	return out, nil
}

// regionCode matches region codes (us-east-1, us-gov-west-1, cn-north-1), not the codes of
// Local Zones or Wavelength Zones (us-west-2-lax-1) that share the regionCode attribute.
var regionCode = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// Regions returns, sorted, every region code the Price List API prices EC2 in
// (GetAttributeValues of attribute regionCode, every page), without Local and Wavelength
// Zones. Errors: API errors (wrapped), and an error when no region is listed.
func Regions(ctx context.Context, api API) ([]string, error) {
	var out []string
	pager := pricing.NewGetAttributeValuesPaginator(api, &pricing.GetAttributeValuesInput{
		ServiceCode:   awssdk.String(ServiceCode),
		AttributeName: awssdk.String("regionCode"),
		MaxResults:    awssdk.Int32(PageSize),
	})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("pricing:GetAttributeValues regionCode of %s: %w", ServiceCode, err)
		}
		for _, v := range page.AttributeValues {
			if r := awssdk.ToString(v.Value); regionCode.MatchString(r) {
				out = append(out, r)
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("pricing:GetAttributeValues listed no region for " + ServiceCode)
	}
	sort.Strings(out)
	return out, nil
}
