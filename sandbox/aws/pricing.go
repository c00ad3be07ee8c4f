package aws

// Price List Query API emulation (awsJson1.1 protocol, X-Amz-Target:
// AWSPriceListService.<Operation>, signing name "pricing"): GetProducts and
// GetAttributeValues for service code AmazonEC2, answered from the instance type catalogue
// (sandbox/aws/catalog) for the emulator's region. Shapes follow the aws-sdk-go-v2 pricing
// client (service/pricing request_snapshot/response_snapshot) and AWS's "Reading the service
// price list files" (FormatVersion aws_v1 documents: product.attributes and
// terms.OnDemand.<sku>.<offer term>.priceDimensions.<rate code>.pricePerUnit.USD); errors are
// {"__type": code, "Message": ...}.
//
// Each catalogue type is listed as the products a real price list holds beside the one the
// controller wants, so that its filters matter: Linux on-demand with capacity status Used (the
// catalogue's real us-east-1 price), UnusedCapacityReservation (the same price) and
// AllocatedCapacityReservation (price 0, as AWS lists it), and Windows (the Linux price plus
// 0.046 USD per vCPU-hour: a model of the Windows licence fee, not a fact per type).

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
)

const (
	pricingContentType = "application/x-amz-json-1.1"
	pricingServiceCode = "AmazonEC2"
	// pricingOnDemandTerm and pricingRateCode are the offer term code and rate code suffix of
	// every real EC2 on-demand price (the "JRTCKXETXF" term, "6YS6EN2CT7" hourly rate).
	pricingOnDemandTerm = "JRTCKXETXF"
	pricingRateCode     = "6YS6EN2CT7"
	// pricingPublication is the fixed publication date and version of the emulated price list.
	pricingPublication = "2026-01-01T00:00:00Z"
	pricingVersion     = "20260101000000"
	pricingMaxResults  = 100
	// windowsUSDPerVCPUHour models the Windows licence fee added to the Linux price.
	windowsUSDPerVCPUHour = 0.046
)

// regionLocations are the Price List "location" names of AWS regions (the attribute the API
// filtered on before regionCode existed).
var regionLocations = map[string]string{
	"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
	"us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)",
	"ca-central-1": "Canada (Central)", "eu-west-1": "EU (Ireland)", "eu-west-2": "EU (London)",
	"eu-west-3": "EU (Paris)", "eu-central-1": "EU (Frankfurt)", "eu-north-1": "EU (Stockholm)",
	"ap-south-1": "Asia Pacific (Mumbai)", "ap-northeast-1": "Asia Pacific (Tokyo)",
	"ap-southeast-1": "Asia Pacific (Singapore)", "ap-southeast-2": "Asia Pacific (Sydney)",
	"sa-east-1":  "South America (Sao Paulo)",
	"cn-north-1": "China (Beijing)", "cn-northwest-1": "China (Ningxia)",
	"us-gov-west-1": "AWS GovCloud (US-West)", "us-gov-east-1": "AWS GovCloud (US-East)",
}

// priceProduct is one product of the emulated price list: its attributes (filtered on) and
// its aws_v1 document (returned).
type priceProduct struct {
	attrs map[string]string
	doc   string
}

var (
	priceListsMu sync.Mutex
	priceLists   = map[string][]priceProduct{} // region -> products, built once per region
)

// priceList returns the products of region, sorted by SKU.
func priceList(region string) []priceProduct {
	priceListsMu.Lock()
	defer priceListsMu.Unlock()
	if pl, ok := priceLists[region]; ok {
		return pl
	}
	var out []priceProduct
	for _, it := range catalog.All() {
		for _, v := range []struct {
			os, capacity string
			price        float64
		}{
			{"Linux", "Used", it.OnDemandPrice},
			{"Linux", "UnusedCapacityReservation", it.OnDemandPrice},
			{"Linux", "AllocatedCapacityReservation", 0},
			{"Windows", "Used", it.OnDemandPrice + windowsUSDPerVCPUHour*float64(it.VCPUs)},
		} {
			out = append(out, newPriceProduct(region, it, v.os, v.capacity, v.price))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].attrs["sku"] < out[j].attrs["sku"] })
	priceLists[region] = out
	return out
}

// sku derives a stable 16-character SKU from the product's identifying attributes.
func sku(parts ...string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	h := fnv.New64a()
	_, _ = h.Write([]byte(strings.Join(parts, "|")))
	n := h.Sum64()
	b := make([]byte, 16)
	for i := range b {
		b[i] = alphabet[n%uint64(len(alphabet))]
		n = n/uint64(len(alphabet)) + uint64(i)*2654435761
	}
	return string(b)
}

func newPriceProduct(region string, it catalog.InstanceType, os, capacity string, usd float64) priceProduct {
	id := sku(region, it.Name, os, capacity)
	location := regionLocations[region]
	if location == "" {
		location = region
	}
	operation := "RunInstances"
	if os == "Windows" {
		operation = "RunInstances:0002"
	}
	storage := "EBS only"
	if it.LocalStorageGB > 0 {
		storage = strconv.FormatInt(it.LocalStorageGB, 10) + " GB"
	}
	arch := "64-bit"
	attrs := map[string]string{
		"servicecode": pricingServiceCode, "servicename": "Amazon Elastic Compute Cloud",
		"regionCode": region, "location": location, "locationType": "AWS Region",
		"instanceType": it.Name, "instanceFamily": it.Family(), "currentGeneration": "Yes",
		"vcpu": strconv.Itoa(int(it.VCPUs)), "memory": strconv.FormatFloat(float64(it.MemoryMiB)/1024, 'f', -1, 64) + " GiB",
		"gpu": strconv.Itoa(int(it.GPUs)), "storage": storage, "networkPerformance": it.NetworkPerformance,
		"processorArchitecture": arch, "operatingSystem": os, "tenancy": "Shared", "preInstalledSw": "NA",
		"licenseModel": "No License required", "capacitystatus": capacity, "marketoption": "OnDemand",
		"usagetype": "BoxUsage:" + it.Name, "operation": operation, "availabilityzone": "NA",
	}
	rate := id + "." + pricingOnDemandTerm + "." + pricingRateCode
	doc := map[string]any{
		"product":     map[string]any{"productFamily": "Compute Instance", "attributes": attrs, "sku": id},
		"serviceCode": pricingServiceCode,
		"terms": map[string]any{"OnDemand": map[string]any{
			id + "." + pricingOnDemandTerm: map[string]any{
				"priceDimensions": map[string]any{rate: map[string]any{
					"unit": "Hrs", "endRange": "Inf", "beginRange": "0", "appliesTo": []string{}, "rateCode": rate,
					"description":  fmt.Sprintf("$%s per On Demand %s %s Instance Hour", strconv.FormatFloat(usd, 'f', 3, 64), os, it.Name),
					"pricePerUnit": map[string]string{"USD": strconv.FormatFloat(usd, 'f', 10, 64)},
				}},
				"sku": id, "effectiveDate": pricingPublication, "offerTermCode": pricingOnDemandTerm,
				"termAttributes": map[string]string{},
			},
		}},
		"version": pricingVersion, "publicationDate": pricingPublication,
	}
	b, _ := json.Marshal(doc) // maps of strings and numbers always marshal
	attrs["sku"] = id
	return priceProduct{attrs: attrs, doc: string(b)}
}

type pricingFilter struct {
	Field *string
	Type  string
	Value *string
}

// matches reports whether p passes f (TERM_MATCH and EQUALS compare case-insensitively as the
// API does; ANY_OF and NONE_OF take a comma-separated list; CONTAINS is a substring test).
func (f pricingFilter) matches(p priceProduct) bool {
	field := *f.Field
	got, ok := p.attrs[field]
	if strings.EqualFold(field, "ServiceCode") {
		got, ok = pricingServiceCode, true
	}
	if !ok {
		for k, v := range p.attrs {
			if strings.EqualFold(k, field) {
				got, ok = v, true
			}
		}
	}
	if !ok {
		return f.Type == "NONE_OF"
	}
	switch f.Type {
	case "TERM_MATCH", "EQUALS":
		return strings.EqualFold(got, *f.Value)
	case "CONTAINS":
		return strings.Contains(strings.ToLower(got), strings.ToLower(*f.Value))
	case "ANY_OF", "NONE_OF":
		in := slices.ContainsFunc(strings.Split(*f.Value, ","), func(v string) bool { return strings.EqualFold(strings.TrimSpace(v), got) })
		return in == (f.Type == "ANY_OF")
	}
	return false
}

func writePricingError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", pricingContentType)
	w.Header().Set("X-Amzn-RequestId", newRequestID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "Message": msg})
}

// pageToken encodes the offset of the next page, bound to the request it continues (a token
// replayed with other filters is refused as AWS refuses it).
func pageToken(request string, offset int) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(request))
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%08x:%d", h.Sum32(), offset)))
}

// pageOffset decodes a NextToken of pageToken (empty: 0), or ok=false.
func pageOffset(request, token string) (offset int, ok bool) {
	if token == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, false
	}
	hash, off, found := strings.Cut(string(b), ":")
	n, err := strconv.Atoi(off)
	if !found || err != nil || n < 0 {
		return 0, false
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(request))
	return n, hash == fmt.Sprintf("%08x", h.Sum32())
}

// page returns items[offset:offset+size] and the token of the next page ("" at the end).
func page[T any](items []T, request string, offset, size int) ([]T, string) {
	end := min(offset+size, len(items))
	if offset > len(items) {
		offset = len(items)
	}
	next := ""
	if end < len(items) {
		next = pageToken(request, end)
	}
	return items[offset:end], next
}

func (e *Emulator) servePricing(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AWSPriceListService.")
	if !ok || r.Method != http.MethodPost {
		writePricingError(w, http.StatusBadRequest, "UnknownOperationException", "Missing or unknown X-Amz-Target: "+target)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBytes))
	if err != nil {
		writePricingError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if op != "GetProducts" && op != "GetAttributeValues" {
		writePricingError(w, http.StatusBadRequest, "UnknownOperationException", "The emulator does not implement AWSPriceListService."+op)
		return
	}
	if aerr := e.authorize(r, "AccessDeniedException", "pricing:"+op, "*", nil); aerr != nil {
		if aerr.Code != "AccessDeniedException" {
			aerr = jsonCredentialError(aerr)
		}
		writePricingError(w, aerr.Status, aerr.Code, aerr.Message)
		return
	}
	if e.throttled("pricing") {
		writePricingError(w, http.StatusTooManyRequests, "ThrottlingException", "Rate exceeded")
		return
	}
	var out any
	var aerr *apiError
	if op == "GetProducts" {
		out, aerr = e.getProducts(body)
	} else {
		out, aerr = e.getAttributeValues(body)
	}
	if aerr != nil {
		writePricingError(w, aerr.Status, aerr.Code, aerr.Message)
		return
	}
	writeAWSJSON(w, pricingContentType, out)
}

// pricingRequest is the common part of GetProducts and GetAttributeValues input.
type pricingRequest struct {
	ServiceCode   *string
	AttributeName *string
	Filters       []pricingFilter
	FormatVersion *string
	MaxResults    *int32
	NextToken     *string
}

// decodePricingRequest parses and validates the body; key identifies the request (service,
// attribute, format and filters) for its page tokens, offset and size are the page asked for.
func decodePricingRequest(body []byte) (in pricingRequest, key string, offset, size int, aerr *apiError) {
	if err := json.Unmarshal(body, &in); err != nil {
		return in, "", 0, 0, errorf(http.StatusBadRequest, "SerializationException", "Invalid request body: %v", err)
	}
	if in.ServiceCode == nil || *in.ServiceCode == "" {
		return in, "", 0, 0, errorf(http.StatusBadRequest, "InvalidParameterException", "ServiceCode is required")
	}
	size = pricingMaxResults
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > pricingMaxResults {
			return in, "", 0, 0, errorf(http.StatusBadRequest, "InvalidParameterException", "MaxResults must be between 1 and %d", pricingMaxResults)
		}
		size = int(*in.MaxResults)
	}
	for i, f := range in.Filters {
		if f.Field == nil || *f.Field == "" || f.Value == nil {
			return in, "", 0, 0, errorf(http.StatusBadRequest, "InvalidParameterException", "Filters[%d]: Field and Value are required", i)
		}
		switch f.Type {
		case "TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF":
		default:
			return in, "", 0, 0, errorf(http.StatusBadRequest, "InvalidParameterException", "Filters[%d]: unknown filter type %q", i, f.Type)
		}
	}
	key = *in.ServiceCode + "|" + ptrOr(in.AttributeName) + "|" + ptrOr(in.FormatVersion)
	for _, f := range in.Filters {
		key += "|" + *f.Field + "=" + f.Type + ":" + *f.Value
	}
	offset, ok := pageOffset(key, ptrOr(in.NextToken))
	if !ok {
		return in, "", 0, 0, errorf(http.StatusBadRequest, "InvalidNextTokenException", "The NextToken is invalid for this request")
	}
	return in, key, offset, size, nil
}

func ptrOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (e *Emulator) getProducts(body []byte) (any, *apiError) {
	in, key, offset, size, aerr := decodePricingRequest(body)
	if aerr != nil {
		return nil, aerr
	}
	if v := ptrOr(in.FormatVersion); v != "" && v != "aws_v1" {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterException", "FormatVersion %q is not supported; use aws_v1", v)
	}
	var docs []string
	if *in.ServiceCode == pricingServiceCode {
		for _, p := range priceList(e.opts.Region) {
			if !slices.ContainsFunc(in.Filters, func(f pricingFilter) bool { return !f.matches(p) }) {
				docs = append(docs, p.doc)
			}
		}
	} else {
		return nil, errorf(http.StatusNotFound, "NotFoundException", "Service %s is not found", *in.ServiceCode)
	}
	list, next := page(docs, key, offset, size)
	out := map[string]any{"FormatVersion": "aws_v1", "PriceList": list}
	if next != "" {
		out["NextToken"] = next
	}
	if list == nil {
		out["PriceList"] = []string{}
	}
	return out, nil
}

func (e *Emulator) getAttributeValues(body []byte) (any, *apiError) {
	in, key, offset, size, aerr := decodePricingRequest(body)
	if aerr != nil {
		return nil, aerr
	}
	if *in.ServiceCode != pricingServiceCode {
		return nil, errorf(http.StatusNotFound, "NotFoundException", "Service %s is not found", *in.ServiceCode)
	}
	name := ptrOr(in.AttributeName)
	if name == "" {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterException", "AttributeName is required")
	}
	seen := map[string]bool{}
	for _, p := range priceList(e.opts.Region) {
		if v, ok := p.attrs[name]; ok {
			seen[v] = true
		}
	}
	if len(seen) == 0 {
		return nil, errorf(http.StatusNotFound, "NotFoundException", "Attribute %s is not found for service %s", name, pricingServiceCode)
	}
	values := make([]map[string]string, 0, len(seen))
	for _, v := range slices.Sorted(maps.Keys(seen)) {
		values = append(values, map[string]string{"Value": v})
	}
	list, next := page(values, key, offset, size)
	out := map[string]any{"AttributeValues": list}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}
