package pricelist

import (
	"context"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	pricingtypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"
)

func TestEndpointRegion(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1": "us-east-1", "us-west-2": "us-east-1", "sa-east-1": "us-east-1", "ca-central-1": "us-east-1",
		"eu-west-1": "eu-central-1", "me-south-1": "eu-central-1", "af-south-1": "eu-central-1",
		"ap-southeast-2": "ap-south-1", "cn-north-1": "cn-northwest-1", "": "us-east-1",
	} {
		if got := EndpointRegion(region); got != want {
			t.Errorf("EndpointRegion(%q) = %s, want %s", region, got, want)
		}
	}
	if got := NewClient(awssdk.Config{Region: "eu-west-3"}, "eu-west-3").Options().Region; got != "eu-central-1" {
		t.Errorf("client region %s, want eu-central-1", got)
	}
}

type attrs struct{ pages [][]string }

func (a attrs) GetProducts(context.Context, *pricing.GetProductsInput, ...func(*pricing.Options)) (*pricing.GetProductsOutput, error) {
	return &pricing.GetProductsOutput{}, nil
}

func (a attrs) GetAttributeValues(_ context.Context, in *pricing.GetAttributeValuesInput, _ ...func(*pricing.Options)) (*pricing.GetAttributeValuesOutput, error) {
	i := 0
	if in.NextToken != nil {
		i = 1
	}
	out := &pricing.GetAttributeValuesOutput{}
	for _, v := range a.pages[i] {
		out.AttributeValues = append(out.AttributeValues, pricingtypes.AttributeValue{Value: awssdk.String(v)})
	}
	if i == 0 && len(a.pages) > 1 {
		out.NextToken = awssdk.String("1")
	}
	return out, nil
}

// Regions pages through the regionCode values and leaves out Local and Wavelength Zones.
func TestRegions(t *testing.T) {
	got, err := Regions(context.Background(), attrs{pages: [][]string{
		{"us-west-2", "us-west-2-lax-1", "us-east-1-wl1-bos-wlz-1"}, {"us-gov-west-1", "eu-central-1", "cn-north-1", "Any"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cn-north-1", "eu-central-1", "us-gov-west-1", "us-west-2"}
	if len(got) != len(want) {
		t.Fatalf("Regions = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Regions = %v, want %v", got, want)
		}
	}
	if _, err := Regions(context.Background(), attrs{pages: [][]string{{"us-west-2-lax-1"}}}); err == nil {
		t.Error("no region listed: no error")
	}
}

func TestParseOnDemand(t *testing.T) {
	doc := `{"product":{"sku":"A","attributes":{"instanceType":"m5.large"}},"terms":{"OnDemand":{"A.T":{"priceDimensions":{"A.T.R":{"unit":"Hrs","pricePerUnit":{"USD":"0.0960000000"}}}}}}}`
	name, usd, err := ParseOnDemand(doc)
	if err != nil || name != "m5.large" || usd != 0.096 {
		t.Fatalf("ParseOnDemand = %s %v %v", name, usd, err)
	}
	two := `{"product":{"attributes":{"instanceType":"m5.large"}},"terms":{"OnDemand":{"A.T":{"priceDimensions":{"1":{"unit":"Hrs","pricePerUnit":{"USD":"1"}},"2":{"unit":"Hrs","pricePerUnit":{"USD":"2"}}}}}}}`
	if _, _, err := ParseOnDemand(two); err == nil {
		t.Error("two prices: no error")
	}
	none := `{"product":{"attributes":{"instanceType":"m5.large"}},"terms":{"Reserved":{}}}`
	if _, _, err := ParseOnDemand(none); err == nil {
		t.Error("no on-demand term: no error")
	}
}
