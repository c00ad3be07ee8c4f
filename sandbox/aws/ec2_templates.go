package aws

// Launch templates: CreateLaunchTemplate, DescribeLaunchTemplates, DeleteLaunchTemplate. Each
// template holds one version (version 1, default and latest); launches read its data.

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
}

type metadataOptions struct {
	HTTPEndpoint, HTTPTokens, HTTPProtocolIPv6, InstanceMetadataTags string
	HopLimit                                                         int64
}

type blockDevice struct {
	DeviceName, VolumeType string
	VolumeSizeGiB          int64
	Encrypted              bool
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
		out.BlockDevices = append(out.BlockDevices, blockDevice{DeviceName: bd.Get("DeviceName"), VolumeType: bd.Get("Ebs.VolumeType"), VolumeSizeGiB: size, Encrypted: enc})
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
		CreatedBy: fmt.Sprintf("arn:aws:iam::%s:root", e.opts.AccountID), DefaultVersionNumber: 1, LatestVersionNumber: 1,
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
