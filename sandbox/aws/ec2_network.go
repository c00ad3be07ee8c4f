package aws

// EC2 network and account resources: DescribeVpcs, DescribeSubnets, DescribeSecurityGroups,
// DescribeAvailabilityZones, DescribeImages, and the tag actions CreateTags, DeleteTags,
// DescribeTags.

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
)

type xmlVpc struct {
	VpcID           string   `xml:"vpcId"`
	OwnerID         string   `xml:"ownerId"`
	State           string   `xml:"state"`
	CidrBlock       string   `xml:"cidrBlock"`
	DhcpOptionsID   string   `xml:"dhcpOptionsId"`
	InstanceTenancy string   `xml:"instanceTenancy"`
	IsDefault       bool     `xml:"isDefault"`
	TagSet          []xmlTag `xml:"tagSet>item"`
}

type describeVpcsResult struct {
	VpcSet    []xmlVpc `xml:"vpcSet>item"`
	NextToken string   `xml:"nextToken,omitempty"`
}

// sortedKeys returns a map's keys in order, for deterministic listings.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// requireIDs checks every requested ID exists (the error names the first missing one).
func requireIDs(ids []string, exists func(string) bool) *apiError {
	for _, id := range ids {
		if !exists(id) {
			return notFoundError(id)
		}
	}
	return nil
}

// attrMap is an attrFunc over a table of single-valued filter names (aliases repeat a value).
func attrMap(m map[string]string) attrFunc {
	return func(name string) ([]string, bool) {
		v, ok := m[name]
		if !ok {
			return nil, false
		}
		return []string{v}, true
	}
}

// ec2Listing is one paged Describe* action over a map of tagged EC2 resources keyed by ID.
type ec2Listing[R any] struct {
	action string                    // the action name, which NextToken tokens are bound to
	items  map[string]R              // the resources, listed in ID order
	ids    []string                  // the requested IDs; empty selects every resource
	keep   func(R) bool              // further selection by request parameters; nil keeps all
	attrs  func(R) map[string]string // the resource's filterable attributes (besides tags)
}

// page reads MaxResults/NextToken (5 to 1000, default all) and returns the IDs on this page of
// the selected resources that pass filters (by tag:K, tag-key, tag-value and attrs), and the
// next token ("" on the last page). An unknown filter name gives InvalidParameterValue.
// Called with e.mu held.
func (l ec2Listing[R]) page(s *ec2Store, form url.Values, filters []ec2Filter) ([]string, string, *apiError) {
	offset, size, err := s.pageParams(form, l.action, 5, 1000, 0)
	if err != nil {
		return nil, "", err
	}
	var match []string
	for _, id := range sortedKeys(l.items) {
		r := l.items[id]
		if (len(l.ids) > 0 && !contains(l.ids, id)) || (l.keep != nil && !l.keep(r)) {
			continue
		}
		ok, err := matchFilters(filters, s.tags[id], attrMap(l.attrs(r)))
		if err != nil {
			return nil, "", err
		}
		if ok {
			match = append(match, id)
		}
	}
	lo, hi, next := s.page(l.action, form, len(match), offset, size)
	return match[lo:hi], next, nil
}

func (e *Emulator) describeVpcs(form url.Values) (any, *apiError) {
	filters, err := parseFilters(form)
	if err != nil {
		return nil, err
	}
	ids := formList(form, "VpcId")
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.ec2
	if err := requireIDs(ids, func(id string) bool { return s.vpcs[id] != nil }); err != nil {
		return nil, err
	}
	ids, next, err := ec2Listing[*vpc]{action: "DescribeVpcs", items: s.vpcs, ids: ids, attrs: func(v *vpc) map[string]string {
		return map[string]string{"vpc-id": v.id, "cidr": v.cidr, "cidr-block-association.cidr-block": v.cidr,
			"state": "available", "owner-id": e.opts.AccountID, "is-default": "false"}
	}}.page(s, form, filters)
	if err != nil {
		return nil, err
	}
	res := describeVpcsResult{NextToken: next}
	for _, id := range ids {
		v := s.vpcs[id]
		res.VpcSet = append(res.VpcSet, xmlVpc{VpcID: v.id, OwnerID: e.opts.AccountID, State: "available", CidrBlock: v.cidr,
			DhcpOptionsID: "dopt-0a1b2c3d4e5f60001", InstanceTenancy: "default", TagSet: tagSet(s.tags[id])})
	}
	return res, nil
}

type xmlSubnet struct {
	SubnetID                string   `xml:"subnetId"`
	SubnetArn               string   `xml:"subnetArn"`
	State                   string   `xml:"state"`
	VpcID                   string   `xml:"vpcId"`
	OwnerID                 string   `xml:"ownerId"`
	CidrBlock               string   `xml:"cidrBlock"`
	AvailableIPAddressCount int      `xml:"availableIpAddressCount"`
	AvailabilityZone        string   `xml:"availabilityZone"`
	AvailabilityZoneID      string   `xml:"availabilityZoneId"`
	DefaultForAz            bool     `xml:"defaultForAz"`
	MapPublicIPOnLaunch     bool     `xml:"mapPublicIpOnLaunch"`
	TagSet                  []xmlTag `xml:"tagSet>item"`
}

type describeSubnetsResult struct {
	SubnetSet []xmlSubnet `xml:"subnetSet>item"`
	NextToken string      `xml:"nextToken,omitempty"`
}

// availableIPs is the subnet's free address count: size minus AWS's 5 reserved addresses minus
// those in use.
func (sn *subnet) availableIPs() int {
	ones, bits := sn.network.Mask.Size()
	return (1 << (bits - ones)) - 5 - sn.allocated
}

func (e *Emulator) describeSubnets(form url.Values) (any, *apiError) {
	filters, err := parseFilters(form)
	if err != nil {
		return nil, err
	}
	ids := formList(form, "SubnetId")
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.ec2
	if err := requireIDs(ids, func(id string) bool { return s.subnets[id] != nil }); err != nil {
		return nil, err
	}
	ids, next, err := ec2Listing[*subnet]{action: "DescribeSubnets", items: s.subnets, ids: ids, attrs: func(sn *subnet) map[string]string {
		return map[string]string{"subnet-id": sn.id, "vpc-id": sn.vpcID,
			"availability-zone": sn.zone, "availabilityZone": sn.zone, "availability-zone-id": sn.zoneID, "availabilityZoneId": sn.zoneID,
			"cidr-block": sn.cidr, "cidr": sn.cidr, "cidrBlock": sn.cidr, "state": "available", "owner-id": e.opts.AccountID,
			"default-for-az": "false", "defaultForAz": "false", "available-ip-address-count": itoa(int64(sn.availableIPs()))}
	}}.page(s, form, filters)
	if err != nil {
		return nil, err
	}
	res := describeSubnetsResult{NextToken: next}
	for _, id := range ids {
		sn := s.subnets[id]
		res.SubnetSet = append(res.SubnetSet, xmlSubnet{SubnetID: sn.id, SubnetArn: e.ec2ARN("subnet", sn.id),
			State: "available", VpcID: sn.vpcID, OwnerID: e.opts.AccountID, CidrBlock: sn.cidr, AvailableIPAddressCount: sn.availableIPs(),
			AvailabilityZone: sn.zone, AvailabilityZoneID: sn.zoneID, TagSet: tagSet(s.tags[id])})
	}
	return res, nil
}

type xmlSecurityGroup struct {
	OwnerID          string   `xml:"ownerId"`
	GroupID          string   `xml:"groupId"`
	GroupName        string   `xml:"groupName"`
	GroupDescription string   `xml:"groupDescription"`
	VpcID            string   `xml:"vpcId"`
	SecurityGroupArn string   `xml:"securityGroupArn"`
	TagSet           []xmlTag `xml:"tagSet>item"`
}

type describeSecurityGroupsResult struct {
	SecurityGroupInfo []xmlSecurityGroup `xml:"securityGroupInfo>item"`
	NextToken         string             `xml:"nextToken,omitempty"`
}

func (e *Emulator) describeSecurityGroups(form url.Values) (any, *apiError) {
	filters, err := parseFilters(form)
	if err != nil {
		return nil, err
	}
	ids := formList(form, "GroupId")
	names := formList(form, "GroupName")
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.ec2
	if err := requireIDs(ids, func(id string) bool { return s.securityGroups[id] != nil }); err != nil {
		return nil, err
	}
	for _, n := range names {
		found := false
		for _, g := range s.securityGroups {
			found = found || g.name == n
		}
		if !found {
			return nil, errorf(http.StatusBadRequest, "InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC", n)
		}
	}
	ids, next, err := ec2Listing[*securityGroup]{action: "DescribeSecurityGroups", items: s.securityGroups, ids: ids,
		keep: func(g *securityGroup) bool { return len(names) == 0 || contains(names, g.name) },
		attrs: func(g *securityGroup) map[string]string {
			return map[string]string{"group-id": g.id, "group-name": g.name, "vpc-id": g.vpcID, "description": g.description,
				"owner-id": e.opts.AccountID}
		}}.page(s, form, filters)
	if err != nil {
		return nil, err
	}
	res := describeSecurityGroupsResult{NextToken: next}
	for _, id := range ids {
		g := s.securityGroups[id]
		res.SecurityGroupInfo = append(res.SecurityGroupInfo, xmlSecurityGroup{OwnerID: e.opts.AccountID, GroupID: g.id, GroupName: g.name,
			GroupDescription: g.description, VpcID: g.vpcID,
			SecurityGroupArn: e.ec2ARN("security-group", g.id),
			TagSet:           tagSet(s.tags[id])})
	}
	return res, nil
}

type xmlAvailabilityZone struct {
	ZoneName           string `xml:"zoneName"`
	ZoneID             string `xml:"zoneId"`
	ZoneState          string `xml:"zoneState"`
	RegionName         string `xml:"regionName"`
	ZoneType           string `xml:"zoneType"`
	OptInStatus        string `xml:"optInStatus"`
	GroupName          string `xml:"groupName"`
	NetworkBorderGroup string `xml:"networkBorderGroup"`
}

type describeAvailabilityZonesResult struct {
	AvailabilityZoneInfo []xmlAvailabilityZone `xml:"availabilityZoneInfo>item"`
}

// zones returns the emulated zones (those of the seed subnets, named in the emulator's region),
// in order.
func (e *Emulator) zones() []xmlAvailabilityZone {
	var out []xmlAvailabilityZone
	for _, sn := range SeedSubnets {
		out = append(out, xmlAvailabilityZone{ZoneName: e.zoneName(sn.Zone), ZoneID: e.zoneID(sn.ZoneID), ZoneState: "available", ZoneType: "availability-zone",
			OptInStatus: "opt-in-not-required"})
	}
	return out
}

func (e *Emulator) describeAvailabilityZones(form url.Values) (any, *apiError) {
	filters, err := parseFilters(form)
	if err != nil {
		return nil, err
	}
	names, ids := formList(form, "ZoneName"), formList(form, "ZoneId")
	var out []xmlAvailabilityZone
	known := map[string]bool{}
	for _, z := range e.zones() {
		known[z.ZoneName], known[z.ZoneID] = true, true
		z.RegionName, z.GroupName, z.NetworkBorderGroup = e.opts.Region, e.opts.Region, e.opts.Region
		if (len(names) > 0 && !contains(names, z.ZoneName)) || (len(ids) > 0 && !contains(ids, z.ZoneID)) {
			continue
		}
		ok, err := matchFilters(filters, nil, func(name string) ([]string, bool) {
			switch name {
			case "zone-name":
				return []string{z.ZoneName}, true
			case "zone-id":
				return []string{z.ZoneID}, true
			case "state":
				return []string{z.ZoneState}, true
			case "region-name":
				return []string{z.RegionName}, true
			case "zone-type":
				return []string{z.ZoneType}, true
			case "group-name":
				return []string{z.GroupName}, true
			case "opt-in-status":
				return []string{z.OptInStatus}, true
			}
			return nil, false
		})
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, z)
		}
	}
	for _, n := range append(names, ids...) {
		if !known[n] {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "The zone '%s' does not exist.", n)
		}
	}
	return describeAvailabilityZonesResult{AvailabilityZoneInfo: out}, nil
}

type xmlImage struct {
	ImageID            string   `xml:"imageId"`
	ImageLocation      string   `xml:"imageLocation"`
	ImageState         string   `xml:"imageState"`
	ImageOwnerID       string   `xml:"imageOwnerId"`
	CreationDate       string   `xml:"creationDate"`
	IsPublic           bool     `xml:"isPublic"`
	Architecture       string   `xml:"architecture"`
	ImageType          string   `xml:"imageType"`
	ImageOwnerAlias    string   `xml:"imageOwnerAlias"`
	Name               string   `xml:"name"`
	Description        string   `xml:"description"`
	RootDeviceType     string   `xml:"rootDeviceType"`
	RootDeviceName     string   `xml:"rootDeviceName"`
	VirtualizationType string   `xml:"virtualizationType"`
	Hypervisor         string   `xml:"hypervisor"`
	EnaSupport         bool     `xml:"enaSupport"`
	PlatformDetails    string   `xml:"platformDetails"`
	UsageOperation     string   `xml:"usageOperation"`
	TagSet             []xmlTag `xml:"tagSet>item"`
}

type describeImagesResult struct {
	ImagesSet []xmlImage `xml:"imagesSet>item"`
	NextToken string     `xml:"nextToken,omitempty"`
}

func (e *Emulator) describeImages(form url.Values) (any, *apiError) {
	filters, err := parseFilters(form)
	if err != nil {
		return nil, err
	}
	ids, owners := formList(form, "ImageId"), formList(form, "Owner")
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.ec2
	for _, id := range ids {
		if !validEC2ID("ami", id) && !strings.HasPrefix(id, "ami-") {
			return nil, errorf(http.StatusBadRequest, "InvalidAMIID.Malformed", "Invalid id: \"%s\"", id)
		}
	}
	if err := requireIDs(ids, func(id string) bool { return s.images[id] != nil }); err != nil {
		return nil, err
	}
	amazon := len(owners) == 0 || contains(owners, "amazon") || contains(owners, amazonImageOwnerID)
	ids, next, err := ec2Listing[*image]{action: "DescribeImages", items: s.images, ids: ids,
		keep: func(*image) bool { return amazon },
		attrs: func(im *image) map[string]string {
			return map[string]string{"image-id": im.id, "name": im.name, "architecture": im.architecture, "state": "available",
				"owner-id": amazonImageOwnerID, "owner-alias": "amazon", "image-type": "machine", "is-public": "true",
				"root-device-type": "ebs", "virtualization-type": "hvm", "description": im.description}
		}}.page(s, form, filters)
	if err != nil {
		return nil, err
	}
	res := describeImagesResult{NextToken: next}
	for _, id := range ids {
		im := s.images[id]
		res.ImagesSet = append(res.ImagesSet, xmlImage{ImageID: im.id, ImageLocation: "amazon/" + im.name, ImageState: "available", ImageOwnerID: amazonImageOwnerID,
			CreationDate: im.created.UTC().Format(ec2TimeFormat), IsPublic: true, Architecture: im.architecture, ImageType: "machine",
			ImageOwnerAlias: "amazon", Name: im.name, Description: im.description, RootDeviceType: "ebs", RootDeviceName: "/dev/xvda",
			VirtualizationType: "hvm", Hypervisor: "xen", EnaSupport: true, PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances",
			TagSet: tagSet(s.tags[id])})
	}
	return res, nil
}

// --- tags -----------------------------------------------------------------------------------

type returnResult struct {
	Return bool `xml:"return"`
}

func (e *Emulator) createTags(form url.Values) (any, *apiError) {
	ids := formList(form, "ResourceId")
	if len(ids) == 0 {
		return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter resourceIdSet")
	}
	tags, err := parseTags(form, "Tag")
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter tagSet")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.ec2
	for _, id := range ids {
		if !s.resourceExists(id) {
			return nil, notFoundError(id)
		}
		merged := copyTags(s.tags[id])
		for k, v := range tags {
			merged[k] = v
		}
		if len(merged) > maxTagsPerResource {
			return nil, errorf(http.StatusBadRequest, "TagLimitExceeded", "The maximum number of tags (%d) for resource %s has been exceeded", maxTagsPerResource, id)
		}
	}
	for _, id := range ids {
		if s.tags[id] == nil {
			s.tags[id] = map[string]string{}
		}
		for k, v := range tags {
			s.tags[id][k] = v
		}
	}
	return returnResult{Return: true}, nil
}

// deleteTags removes tags: a Tag.N with only a Key deletes that key whatever its value; with a
// Value (even empty) only when the value matches; no Tag at all deletes every tag (source: EC2
// API reference, DeleteTags).
func (e *Emulator) deleteTags(form url.Values) (any, *apiError) {
	ids := formList(form, "ResourceId")
	if len(ids) == 0 {
		return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter resourceIdSet")
	}
	type del struct {
		key, value string
		hasValue   bool
	}
	var dels []del
	for i, t := range formObjects(form, "Tag") {
		if t.Get("Key") == "" {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Tag key must not be empty (Tag.%d.Key)", i+1)
		}
		_, hasValue := t["Value"]
		dels = append(dels, del{t.Get("Key"), t.Get("Value"), hasValue})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.ec2
	for _, id := range ids {
		if !s.resourceExists(id) {
			return nil, notFoundError(id)
		}
	}
	for _, id := range ids {
		if len(dels) == 0 {
			delete(s.tags, id)
			continue
		}
		for _, d := range dels {
			if v, ok := s.tags[id][d.key]; ok && (!d.hasValue || v == d.value) {
				delete(s.tags[id], d.key)
			}
		}
	}
	return returnResult{Return: true}, nil
}

type xmlTagDescription struct {
	ResourceID   string `xml:"resourceId"`
	ResourceType string `xml:"resourceType"`
	Key          string `xml:"key"`
	Value        string `xml:"value"`
}

type describeTagsResult struct {
	TagSet    []xmlTagDescription `xml:"tagSet>item"`
	NextToken string              `xml:"nextToken,omitempty"`
}

func (e *Emulator) describeTags(form url.Values) (any, *apiError) {
	filters, err := parseFilters(form)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.ec2
	offset, size, err := s.pageParams(form, "DescribeTags", 5, 1000, 0)
	if err != nil {
		return nil, err
	}
	var out []xmlTagDescription
	for _, id := range sortedKeys(s.tags) {
		if !s.resourceExists(id) {
			continue
		}
		for _, k := range sortedKeys(s.tags[id]) {
			d := xmlTagDescription{ResourceID: id, ResourceType: resourceType(id), Key: k, Value: s.tags[id][k]}
			ok, err := matchFilters(filters, nil, func(name string) ([]string, bool) {
				switch name {
				case "resource-id":
					return []string{d.ResourceID}, true
				case "resource-type":
					return []string{d.ResourceType}, true
				case "key":
					return []string{d.Key}, true
				case "value":
					return []string{d.Value}, true
				}
				return nil, false
			})
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, d)
			}
		}
	}
	lo, hi, next := s.page("DescribeTags", form, len(out), offset, size)
	return describeTagsResult{TagSet: out[lo:hi], NextToken: next}, nil
}
