package aws

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	pricingtypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
)

func newPricing(base string, cfg awssdk.Config) *pricing.Client {
	return pricing.NewFromConfig(cfg, func(o *pricing.Options) { o.BaseEndpoint = awssdk.String(base) })
}

func termMatch(kv ...string) []pricingtypes.Filter {
	var out []pricingtypes.Filter
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, pricingtypes.Filter{Field: awssdk.String(kv[i]), Type: pricingtypes.FilterTypeTermMatch, Value: awssdk.String(kv[i+1])})
	}
	return out
}

// linuxOnDemand are the filters of the controller's price refresh.
var linuxOnDemand = termMatch("regionCode", "us-east-1", "operatingSystem", "Linux", "tenancy", "Shared",
	"preInstalledSw", "NA", "capacitystatus", "Used", "marketoption", "OnDemand")

type testPriceDoc struct {
	Product struct {
		SKU        string            `json:"sku"`
		Attributes map[string]string `json:"attributes"`
	} `json:"product"`
	Terms struct {
		OnDemand map[string]struct {
			OfferTermCode   string `json:"offerTermCode"`
			PriceDimensions map[string]struct {
				Unit         string            `json:"unit"`
				PricePerUnit map[string]string `json:"pricePerUnit"`
			} `json:"priceDimensions"`
		} `json:"OnDemand"`
	} `json:"terms"`
}

// allProducts pages through GetProducts with page size size and returns every document.
func allProducts(t *testing.T, c *pricing.Client, filters []pricingtypes.Filter, size int32) ([]testPriceDoc, int) {
	t.Helper()
	var docs []testPriceDoc
	pages := 0
	pager := pricing.NewGetProductsPaginator(c, &pricing.GetProductsInput{
		ServiceCode: awssdk.String("AmazonEC2"), Filters: filters, FormatVersion: awssdk.String("aws_v1"), MaxResults: awssdk.Int32(size),
	})
	for pager.HasMorePages() {
		out, err := pager.NextPage(context.Background())
		must(t, err)
		pages++
		if awssdk.ToString(out.FormatVersion) != "aws_v1" {
			t.Fatalf("FormatVersion %q", awssdk.ToString(out.FormatVersion))
		}
		for _, s := range out.PriceList {
			var d testPriceDoc
			if err := json.Unmarshal([]byte(s), &d); err != nil {
				t.Fatalf("document %q: %v", s, err)
			}
			docs = append(docs, d)
		}
	}
	return docs, pages
}

// onDemandUSD returns the one hourly USD price of the document.
func onDemandUSD(t *testing.T, d testPriceDoc) float64 {
	t.Helper()
	var prices []float64
	for _, term := range d.Terms.OnDemand {
		if term.OfferTermCode != pricingOnDemandTerm {
			t.Errorf("%s: offer term %q", d.Product.SKU, term.OfferTermCode)
		}
		for _, dim := range term.PriceDimensions {
			p, err := strconv.ParseFloat(dim.PricePerUnit["USD"], 64)
			if err != nil || dim.Unit != "Hrs" {
				t.Fatalf("%s: price %q unit %q", d.Product.SKU, dim.PricePerUnit["USD"], dim.Unit)
			}
			prices = append(prices, p)
		}
	}
	if len(prices) != 1 {
		t.Fatalf("%s: %d prices", d.Product.SKU, len(prices))
	}
	return prices[0]
}

// TestPricingGetProducts reads the Linux on-demand price list through the SDK client, page by
// page: exactly one product per catalogue type, at the catalogue's price.
func TestPricingGetProducts(t *testing.T) {
	_, base, cfg := startEmulator(t, Options{})
	c := newPricing(base, cfg)
	docs, pages := allProducts(t, c, linuxOnDemand, 100)
	if len(docs) != catalog.Len() {
		t.Fatalf("%d products, want one per catalogue type (%d)", len(docs), catalog.Len())
	}
	if want := (catalog.Len() + 99) / 100; pages != want {
		t.Errorf("%d pages of 100, want %d", pages, want)
	}
	seen := map[string]bool{}
	for _, d := range docs {
		a := d.Product.Attributes
		name := a["instanceType"]
		it, ok := catalog.Lookup(name)
		if !ok || seen[name] {
			t.Fatalf("product %s: unknown or repeated type %q", d.Product.SKU, name)
		}
		seen[name] = true
		if got := onDemandUSD(t, d); got != it.OnDemandPrice {
			t.Errorf("%s: price %v, catalogue %v", name, got, it.OnDemandPrice)
		}
		if a["location"] != "US East (N. Virginia)" || a["vcpu"] != strconv.Itoa(int(it.VCPUs)) || a["usagetype"] != "BoxUsage:"+name {
			t.Errorf("%s: attributes %v", name, a)
		}
	}

	// Without the capacity status filter the reservations' products come too, one at price 0.
	all, _ := allProducts(t, c, termMatch("regionCode", "us-east-1", "operatingSystem", "Linux"), 7)
	if len(all) != 3*catalog.Len() {
		t.Errorf("Linux products of every capacity status: %d, want %d", len(all), 3*catalog.Len())
	}
	win, _ := allProducts(t, c, termMatch("location", "US East (N. Virginia)", "operatingSystem", "windows", "capacitystatus", "Used"), 100)
	m5, _ := catalog.Lookup("m5.large")
	for _, d := range win {
		if d.Product.Attributes["instanceType"] == m5.Name && onDemandUSD(t, d) <= m5.OnDemandPrice {
			t.Errorf("Windows m5.large %v is not dearer than Linux %v", onDemandUSD(t, d), m5.OnDemandPrice)
		}
	}
	none, _ := allProducts(t, c, termMatch("regionCode", "eu-west-1"), 100)
	if len(none) != 0 {
		t.Errorf("another region has %d products, want 0", len(none))
	}
	anyOf := []pricingtypes.Filter{{Field: awssdk.String("instanceType"), Type: pricingtypes.FilterTypeAnyOf, Value: awssdk.String("m5.large, c5.large")}}
	two, _ := allProducts(t, c, append(anyOf, linuxOnDemand...), 100)
	if len(two) != 2 {
		t.Errorf("ANY_OF two types: %d products", len(two))
	}
}

// TestPricingErrors checks the errors the SDK turns into typed exceptions.
func TestPricingErrors(t *testing.T) {
	ctx := context.Background()
	e, base, cfg := startEmulator(t, Options{})
	c := newPricing(base, cfg)
	in := func() *pricing.GetProductsInput {
		return &pricing.GetProductsInput{ServiceCode: awssdk.String("AmazonEC2"), Filters: linuxOnDemand, MaxResults: awssdk.Int32(10)}
	}
	first, err := c.GetProducts(ctx, in())
	must(t, err)
	if first.NextToken == nil || len(first.PriceList) != 10 {
		t.Fatalf("first page: %d documents, token %v", len(first.PriceList), first.NextToken)
	}
	other := in()
	other.Filters, other.NextToken = termMatch("operatingSystem", "Windows"), first.NextToken
	_, err = c.GetProducts(ctx, other)
	wantCode(t, err, "InvalidNextTokenException") // a token continues only its own request
	bad := in()
	bad.NextToken = awssdk.String("garbage!")
	_, err = c.GetProducts(ctx, bad)
	wantCode(t, err, "InvalidNextTokenException")
	svc := in()
	svc.ServiceCode = awssdk.String("AmazonS3")
	_, err = c.GetProducts(ctx, svc)
	wantCode(t, err, "NotFoundException")
	format := in()
	format.FormatVersion = awssdk.String("aws_v2")
	_, err = c.GetProducts(ctx, format)
	wantCode(t, err, "InvalidParameterException")
	big := in()
	big.MaxResults = awssdk.Int32(101)
	_, err = c.GetProducts(ctx, big)
	wantCode(t, err, "InvalidParameterException")

	must(t, e.AddThrottle(ThrottleFault{Service: "pricing", Next: 1}))
	_, err = c.GetProducts(ctx, in())
	var te *pricingtypes.ThrottlingException
	if !errors.As(err, &te) {
		t.Fatalf("throttled call: %v, want *ThrottlingException", err)
	}
	_, err = c.GetProducts(ctx, in())
	must(t, err)
}

// TestPricingAttributeValues lists the regions priced: the emulator's own.
func TestPricingAttributeValues(t *testing.T) {
	_, base, cfg := startEmulator(t, Options{Region: "eu-west-1"})
	c := newPricing(base, cfg)
	out, err := c.GetAttributeValues(context.Background(), &pricing.GetAttributeValuesInput{
		ServiceCode: awssdk.String("AmazonEC2"), AttributeName: awssdk.String("regionCode")})
	must(t, err)
	if len(out.AttributeValues) != 1 || awssdk.ToString(out.AttributeValues[0].Value) != "eu-west-1" {
		t.Errorf("regionCode values %+v", out.AttributeValues)
	}
	docs, _ := allProducts(t, c, termMatch("regionCode", "eu-west-1", "capacitystatus", "Used", "operatingSystem", "Linux"), 100)
	if len(docs) != catalog.Len() || docs[0].Product.Attributes["location"] != "EU (Ireland)" {
		t.Errorf("eu-west-1: %d products", len(docs))
	}
	_, err = c.GetAttributeValues(context.Background(), &pricing.GetAttributeValuesInput{
		ServiceCode: awssdk.String("AmazonEC2"), AttributeName: awssdk.String("nonexistent")})
	wantCode(t, err, "NotFoundException")
}

// TestPricingAuthorized checks that role sessions need pricing:GetProducts.
func TestPricingAuthorized(t *testing.T) {
	ctx := context.Background()
	f := newIRSAFixture(t, nil)
	out, err := f.assume(signToken(t, jose.RS256, f.key, f.claims()))
	must(t, err)
	cr := out.Credentials
	c := pricing.NewFromConfig(f.cfg, func(o *pricing.Options) {
		o.BaseEndpoint = awssdk.String(f.base)
		o.Credentials = credentials.NewStaticCredentialsProvider(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken)
	})
	in := &pricing.GetProductsInput{ServiceCode: awssdk.String("AmazonEC2"), Filters: linuxOnDemand, MaxResults: awssdk.Int32(1)}
	_, err = c.GetProducts(ctx, in)
	wantCode(t, err, "AccessDeniedException")
	_, err = f.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: awssdk.String("karpenter"), PolicyName: awssdk.String("pricing"),
		PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"pricing:GetProducts","Resource":"*"}]}`)})
	must(t, err)
	_, err = c.GetProducts(ctx, in)
	must(t, err)
}
