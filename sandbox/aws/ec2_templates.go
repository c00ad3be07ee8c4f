package aws

// Launch templates: CreateLaunchTemplate, DescribeLaunchTemplates,
// DescribeLaunchTemplateVersions, DeleteLaunchTemplate. Each template holds one version
// (version 1, default and latest) whose data (AMI, profile, security groups, user data, block
// device mappings, metadata options, monitoring) launches read and DescribeLaunchTemplateVersions
// returns.

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// launchTemplateData is the subset of RequestLaunchTemplateData the emulator honours.
type launchTemplateData struct {
	ImageID            string
	InstanceType       string
	ProfileName        string // IamInstanceProfile.Name
	ProfileArn         string // IamInstanceProfile.Arn
	UserData           string // base64, as sent
	SecurityGroupIDs   []string
	SecurityGroupNames []string
	TagSpecs           []tagSpec
	Metadata           metadataOptions
	BlockDevices       []blockDevice
	SpotMarket         bool // InstanceMarketOptions.MarketType == "spot"
	Monitoring         bool // Monitoring.Enabled: detailed monitoring
}

type metadataOptions struct {
	HTTPEndpoint, HTTPTokens, HTTPProtocolIPv6, InstanceMetadataTags string
	HopLimit                                                         int64
}

type blockDevice struct {
	DeviceName, VolumeType string
	VolumeSizeGiB          int64
	Encrypted              bool
	IOPS, Throughput       int64
	KMSKeyID, SnapshotID   string
	DeleteOnTermination    bool // EC2's default: true
}

type launchTemplate struct {
	id, name string
	created  time.Time
	data     launchTemplateData
}

// launchTemplateNameRE is AWS's constraint on names (source: EC2 API reference,
// CreateLaunchTemplate, LaunchTemplateName: 3-128 characters, [a-zA-Z0-9\(\)\.\-/_]+).
var launchTemplateNameRE = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)

// parseLaunchData reads launch parameters from d: CreateLaunchTemplate's LaunchTemplateData
// members (prefix "LaunchTemplateData", used in error field paths) or RunInstances' top-level
// parameters, which have the same names (prefix "").
func parseLaunchData(d url.Values, prefix string) (launchTemplateData, *apiError) {
	if prefix != "" {
		prefix += "."
	}
	var out launchTemplateData
	out.ImageID = d.Get("ImageId")
	out.InstanceType = d.Get("InstanceType")
	out.ProfileName = d.Get("IamInstanceProfile.Name")
	out.ProfileArn = d.Get("IamInstanceProfile.Arn")
	if out.ProfileName != "" && out.ProfileArn != "" {
		return out, errorf(http.StatusBadRequest, "InvalidParameterCombination", "%sIamInstanceProfile: specify either Name or Arn, not both", prefix)
	}
	out.UserData = d.Get("UserData")
	if out.UserData != "" {
		if _, err := base64.StdEncoding.DecodeString(out.UserData); err != nil {
			return out, errorf(http.StatusBadRequest, "InvalidUserData.Malformed", "%sUserData: Invalid BASE64 encoding of user data.", prefix)
		}
	}
	out.SecurityGroupIDs = formList(d, "SecurityGroupId")
	out.SecurityGroupNames = formList(d, "SecurityGroup")
	specs, err := parseTagSpecs(d, "TagSpecification", "instance", "volume", "network-interface", "spot-instances-request")
	if err != nil {
		err.Message = prefix + err.Message
		return out, err
	}
	out.TagSpecs = specs
	md := formSub(d, "MetadataOptions")
	out.Metadata = metadataOptions{HTTPEndpoint: md.Get("HttpEndpoint"), HTTPTokens: md.Get("HttpTokens"),
		HTTPProtocolIPv6: md.Get("HttpProtocolIpv6"), InstanceMetadataTags: md.Get("InstanceMetadataTags")}
	for k, allowed := range map[string][]string{"HttpEndpoint": {"enabled", "disabled"}, "HttpTokens": {"optional", "required"},
		"HttpProtocolIpv6": {"enabled", "disabled"}, "InstanceMetadataTags": {"enabled", "disabled"}} {
		if v := md.Get(k); v != "" && !contains(allowed, v) {
			return out, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter %sMetadataOptions.%s is invalid.", v, prefix, k)
		}
	}
	hop, err := formInt(md, "HttpPutResponseHopLimit", 1)
	if err != nil {
		return out, err
	}
	if hop < 1 || hop > 64 {
		return out, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%d) for parameter %sMetadataOptions.HttpPutResponseHopLimit is invalid. Expecting a value between 1 and 64.", hop, prefix)
	}
	out.Metadata.HopLimit = hop
	for i, bd := range formObjects(d, "BlockDeviceMapping") {
		size, err := formInt(bd, "Ebs.VolumeSize", 0)
		if err != nil {
			return out, err
		}
		if size < 0 || size > 65536 {
			return out, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%d) for parameter %sBlockDeviceMapping.%d.Ebs.VolumeSize is invalid (GiB, 1-65536).", size, prefix, i+1)
		}
		enc, err := formBool(bd, "Ebs.Encrypted")
		if err != nil {
			return out, err
		}
		if bd.Get("DeviceName") == "" {
			return out, errorf(http.StatusBadRequest, "MissingParameter", "%sBlockDeviceMapping.%d.DeviceName is required", prefix, i+1)
		}
		dev, err := parseEBS(bd, fmt.Sprintf("%sBlockDeviceMapping.%d.Ebs", prefix, i+1))
		if err != nil {
			return out, err
		}
		dev.DeviceName, dev.VolumeSizeGiB, dev.Encrypted = bd.Get("DeviceName"), size, enc
		out.BlockDevices = append(out.BlockDevices, dev)
	}
	if mon, err := formBool(d, "Monitoring.Enabled"); err != nil {
		return out, err
	} else {
		out.Monitoring = mon
	}
	if mt := d.Get("InstanceMarketOptions.MarketType"); mt != "" {
		if mt != "spot" && mt != "capacity-block" {
			return out, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter %sInstanceMarketOptions.MarketType is invalid.", mt, prefix)
		}
		out.SpotMarket = mt == "spot"
	}
	return out, nil
}

type xmlLaunchTemplate struct {
	LaunchTemplateID     string   `xml:"launchTemplateId"`
	LaunchTemplateName   string   `xml:"launchTemplateName"`
	CreateTime           string   `xml:"createTime"`
	CreatedBy            string   `xml:"createdBy"`
	DefaultVersionNumber int64    `xml:"defaultVersionNumber"`
	LatestVersionNumber  int64    `xml:"latestVersionNumber"`
	TagSet               []xmlTag `xml:"tagSet>item"`
}

type launchTemplateResult struct {
	LaunchTemplate xmlLaunchTemplate `xml:"launchTemplate"`
}

type describeLaunchTemplatesResult struct {
	LaunchTemplates []xmlLaunchTemplate `xml:"launchTemplates>item"`
	NextToken       string              `xml:"nextToken,omitempty"`
}

func (e *Emulator) xmlLaunchTemplate(lt *launchTemplate) xmlLaunchTemplate {
	return xmlLaunchTemplate{LaunchTemplateID: lt.id, LaunchTemplateName: lt.name, CreateTime: lt.created.UTC().Format(ec2TimeFormat),
		CreatedBy: e.iamARN("root"), DefaultVersionNumber: 1, LatestVersionNumber: 1,
		TagSet: tagSet(e.state.ec2.tags[lt.id])}
}

func (e *Emulator) createLaunchTemplate(form url.Values) (any, *apiError) {
	name := form.Get("LaunchTemplateName")
	if name == "" {
		return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter LaunchTemplateName")
	}
	if !launchTemplateNameRE.MatchString(name) {
		return nil, errorf(http.StatusBadRequest, "InvalidLaunchTemplateName.MalformedException", "LaunchTemplateName '%s' is invalid: 3-128 characters of letters, digits, ( ) . - / _", name)
	}
	if len(formSub(form, "LaunchTemplateData")) == 0 {
		return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter LaunchTemplateData")
	}
	data, err := parseLaunchData(formSub(form, "LaunchTemplateData"), "LaunchTemplateData")
	if err != nil {
		return nil, err
	}
	specs, err := parseTagSpecs(form, "TagSpecification", "launch-template")
	if err != nil {
		return nil, err
	}
	tags := tagsFor(specs, "launch-template")
	if len(tags) > maxTagsPerResource {
		return nil, errorf(http.StatusBadRequest, "TagLimitExceeded", "The maximum number of tags (%d) has been exceeded", maxTagsPerResource)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.ec2
	if _, dup := s.templateByName[name]; dup {
		return nil, errorf(http.StatusBadRequest, "InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.")
	}
	lt := &launchTemplate{id: newEC2ID("lt"), name: name, created: s.clock.Now(), data: data}
	s.launchTemplates[lt.id] = lt
	s.templateByName[name] = lt.id
	if len(tags) > 0 {
		s.tags[lt.id] = tags
	}
	return launchTemplateResult{LaunchTemplate: e.xmlLaunchTemplate(lt)}, nil
}

// findLaunchTemplate resolves a template by ID or name, with AWS's errors. Caller holds e.mu.
func (s *ec2Store) findLaunchTemplate(id, name string) (*launchTemplate, *apiError) {
	switch {
	case id != "" && name != "":
		return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination", "Specify either a launch template ID or a launch template name, not both.")
	case id != "":
		if !validEC2ID("lt", id) {
			return nil, errorf(http.StatusBadRequest, "InvalidLaunchTemplateId.Malformed", "The specified ID for the launch template '%s' is malformed.", id)
		}
		lt := s.launchTemplates[id]
		if lt == nil {
			return nil, notFoundError(id)
		}
		return lt, nil
	case name != "":
		lt := s.launchTemplates[s.templateByName[name]]
		if lt == nil {
			return nil, errorf(http.StatusBadRequest, "InvalidLaunchTemplateName.NotFoundException", "The specified launch template, with template name %s, does not exist.", name)
		}
		return lt, nil
	}
	return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter LaunchTemplateName or LaunchTemplateId")
}

// checkVersion accepts the versions of a single-version template: "", "$Latest", "$Default", "1".
func checkVersion(lt *launchTemplate, v string) *apiError {
	switch v {
	case "", "$Latest", "$Default", "1":
		return nil
	}
	return errorf(http.StatusBadRequest, "InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for launch template %s.", v, lt.id)
}

func (e *Emulator) describeLaunchTemplates(form url.Values) (any, *apiError) {
	filters, err := parseFilters(form)
	if err != nil {
		return nil, err
	}
	ids, names := formList(form, "LaunchTemplateId"), formList(form, "LaunchTemplateName")
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.ec2
	for _, id := range ids {
		if _, err := s.findLaunchTemplate(id, ""); err != nil {
			return nil, err
		}
	}
	for _, n := range names {
		if _, ok := s.templateByName[n]; !ok {
			return nil, errorf(http.StatusBadRequest, "InvalidLaunchTemplateName.NotFoundException", "At least one of the launch templates specified in the request does not exist.")
		}
	}
	offset, size, err := s.pageParams(form, "DescribeLaunchTemplates", 1, 200, 0)
	if err != nil {
		return nil, err
	}
	var out []xmlLaunchTemplate
	for _, name := range sortedKeys(s.templateByName) {
		lt := s.launchTemplates[s.templateByName[name]]
		if (len(ids) > 0 || len(names) > 0) && !contains(ids, lt.id) && !contains(names, lt.name) {
			continue
		}
		ok, err := matchFilters(filters, s.tags[lt.id], func(f string) ([]string, bool) {
			switch f {
			case "launch-template-name":
				return []string{lt.name}, true
			case "launch-template-id":
				return []string{lt.id}, true
			case "create-time":
				return []string{lt.created.UTC().Format(ec2TimeFormat)}, true
			}
			return nil, false
		})
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, e.xmlLaunchTemplate(lt))
		}
	}
	lo, hi, next := s.page("DescribeLaunchTemplates", form, len(out), offset, size)
	return describeLaunchTemplatesResult{LaunchTemplates: out[lo:hi], NextToken: next}, nil
}

func (e *Emulator) deleteLaunchTemplate(form url.Values) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.ec2
	lt, err := s.findLaunchTemplate(form.Get("LaunchTemplateId"), form.Get("LaunchTemplateName"))
	if err != nil {
		return nil, err
	}
	res := launchTemplateResult{LaunchTemplate: e.xmlLaunchTemplate(lt)}
	delete(s.launchTemplates, lt.id)
	delete(s.templateByName, lt.name)
	delete(s.tags, lt.id)
	return res, nil
}

// parseEBS reads a block device's EBS volume type, IOPS, throughput, KMS key, snapshot and
// DeleteOnTermination (default true), with EC2's rules (EC2 User Guide, "Amazon EBS volume
// types"): a known type; IOPS only for io1, io2 and gp3 and required for io1 and io2 (gp3
// 3000-80000, io1 100-64000, io2 100-256000); throughput only for gp3 (125-2000 MiB/s); a size
// or a snapshot.
func parseEBS(bd url.Values, at string) (blockDevice, *apiError) {
	out := blockDevice{VolumeType: bd.Get("Ebs.VolumeType"), KMSKeyID: bd.Get("Ebs.KmsKeyId"), SnapshotID: bd.Get("Ebs.SnapshotId"), DeleteOnTermination: true}
	if out.VolumeType != "" && !contains([]string{"standard", "io1", "io2", "gp2", "sc1", "st1", "gp3"}, out.VolumeType) {
		return out, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter %s.VolumeType is invalid.", out.VolumeType, at)
	}
	if bd.Get("Ebs.DeleteOnTermination") != "" {
		del, err := formBool(bd, "Ebs.DeleteOnTermination")
		if err != nil {
			return out, err
		}
		out.DeleteOnTermination = del
	}
	iops, err := formInt(bd, "Ebs.Iops", 0)
	if err != nil {
		return out, err
	}
	bounds := map[string][2]int64{"gp3": {3000, 80000}, "io1": {100, 64000}, "io2": {100, 256000}}
	b, takesIOPS := bounds[out.VolumeType]
	switch {
	case iops != 0 && !takesIOPS:
		return out, errorf(http.StatusBadRequest, "InvalidParameterCombination", "%s.Iops: the parameter iops is not supported for %s volumes.", at, or(out.VolumeType, "gp2"))
	case iops == 0 && (out.VolumeType == "io1" || out.VolumeType == "io2"):
		return out, errorf(http.StatusBadRequest, "MissingParameter", "%s.Iops: the parameter iops must be specified for %s volumes.", at, out.VolumeType)
	case iops != 0 && (iops < b[0] || iops > b[1]):
		return out, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%d) for parameter %s.Iops is invalid: %s volumes take %d to %d.", iops, at, out.VolumeType, b[0], b[1])
	}
	out.IOPS = iops
	tp, err := formInt(bd, "Ebs.Throughput", 0)
	if err != nil {
		return out, err
	}
	if tp != 0 && (out.VolumeType != "gp3" || tp < 125 || tp > 2000) {
		return out, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%d) for parameter %s.Throughput is invalid: only gp3 volumes take 125 to 2000 MiB/s.", tp, at)
	}
	out.Throughput = tp
	if bd.Get("Ebs.VolumeSize") == "" && out.SnapshotID == "" {
		return out, errorf(http.StatusBadRequest, "MissingParameter", "%s: the request must contain the parameter VolumeSize or SnapshotId", at)
	}
	return out, nil
}

// DescribeLaunchTemplateVersions: the one version of each template, with its data as stored.

type xmlLaunchTemplateEBS struct {
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
	Encrypted           bool   `xml:"encrypted"`
	Iops                int64  `xml:"iops,omitempty"`
	KmsKeyID            string `xml:"kmsKeyId,omitempty"`
	SnapshotID          string `xml:"snapshotId,omitempty"`
	Throughput          int64  `xml:"throughput,omitempty"`
	VolumeSize          int64  `xml:"volumeSize,omitempty"`
	VolumeType          string `xml:"volumeType,omitempty"`
}

type xmlLaunchTemplateBlockDevice struct {
	DeviceName string               `xml:"deviceName"`
	EBS        xmlLaunchTemplateEBS `xml:"ebs"`
}

type xmlLaunchTemplateMetadata struct {
	State                   string `xml:"state"`
	HTTPTokens              string `xml:"httpTokens,omitempty"`
	HTTPPutResponseHopLimit int64  `xml:"httpPutResponseHopLimit,omitempty"`
	HTTPEndpoint            string `xml:"httpEndpoint,omitempty"`
	HTTPProtocolIpv6        string `xml:"httpProtocolIpv6,omitempty"`
	InstanceMetadataTags    string `xml:"instanceMetadataTags,omitempty"`
}

type xmlLaunchTemplateData struct {
	BlockDeviceMappings []xmlLaunchTemplateBlockDevice `xml:"blockDeviceMappingSet>item"`
	ProfileName         string                         `xml:"iamInstanceProfile>name,omitempty"`
	ProfileArn          string                         `xml:"iamInstanceProfile>arn,omitempty"`
	ImageID             string                         `xml:"imageId,omitempty"`
	InstanceType        string                         `xml:"instanceType,omitempty"`
	MetadataOptions     *xmlLaunchTemplateMetadata     `xml:"metadataOptions,omitempty"`
	MonitoringEnabled   bool                           `xml:"monitoring>enabled"`
	SecurityGroupIDs    []string                       `xml:"securityGroupIdSet>item"`
	UserData            string                         `xml:"userData,omitempty"`
}

type xmlLaunchTemplateVersion struct {
	LaunchTemplateID   string                `xml:"launchTemplateId"`
	LaunchTemplateName string                `xml:"launchTemplateName"`
	VersionNumber      int64                 `xml:"versionNumber"`
	DefaultVersion     bool                  `xml:"defaultVersion"`
	CreateTime         string                `xml:"createTime"`
	CreatedBy          string                `xml:"createdBy"`
	LaunchTemplateData xmlLaunchTemplateData `xml:"launchTemplateData"`
}

type describeLaunchTemplateVersionsResult struct {
	Versions []xmlLaunchTemplateVersion `xml:"launchTemplateVersionSet>item"`
}

// describeLaunchTemplateVersions answers for one template (LaunchTemplateId or
// LaunchTemplateName) and the versions asked ($Latest, $Default, 1; none: all, which is 1).
func (e *Emulator) describeLaunchTemplateVersions(form url.Values) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	lt, err := e.state.ec2.findLaunchTemplate(form.Get("LaunchTemplateId"), form.Get("LaunchTemplateName"))
	if err != nil {
		return nil, err
	}
	for _, v := range formList(form, "LaunchTemplateVersion") {
		if err := checkVersion(lt, v); err != nil {
			return nil, err
		}
	}
	d := lt.data
	x := xmlLaunchTemplateData{ProfileName: d.ProfileName, ProfileArn: d.ProfileArn, ImageID: d.ImageID, InstanceType: d.InstanceType,
		MonitoringEnabled: d.Monitoring, SecurityGroupIDs: d.SecurityGroupIDs, UserData: d.UserData}
	for _, b := range d.BlockDevices {
		x.BlockDeviceMappings = append(x.BlockDeviceMappings, xmlLaunchTemplateBlockDevice{DeviceName: b.DeviceName, EBS: xmlLaunchTemplateEBS{
			DeleteOnTermination: b.DeleteOnTermination, Encrypted: b.Encrypted, Iops: b.IOPS, KmsKeyID: b.KMSKeyID, SnapshotID: b.SnapshotID,
			Throughput: b.Throughput, VolumeSize: b.VolumeSizeGiB, VolumeType: b.VolumeType}})
	}
	if md := d.Metadata; md != (metadataOptions{HopLimit: 1}) {
		x.MetadataOptions = &xmlLaunchTemplateMetadata{State: "pending", HTTPTokens: md.HTTPTokens, HTTPPutResponseHopLimit: md.HopLimit,
			HTTPEndpoint: md.HTTPEndpoint, HTTPProtocolIpv6: md.HTTPProtocolIPv6, InstanceMetadataTags: md.InstanceMetadataTags}
	}
	return describeLaunchTemplateVersionsResult{Versions: []xmlLaunchTemplateVersion{{LaunchTemplateID: lt.id, LaunchTemplateName: lt.name,
		VersionNumber: 1, DefaultVersion: true, CreateTime: lt.created.UTC().Format(ec2TimeFormat),
		CreatedBy: e.iamARN("root"), LaunchTemplateData: x}}}, nil
}
