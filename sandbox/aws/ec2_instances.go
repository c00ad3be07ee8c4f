package aws

// Instances: RunInstances, CreateFleet (type instant), DescribeInstances, TerminateInstances,
// and the lifecycle pending -> running (after Options.BootDelay, calling Hooks.OnBoot) ->
// shutting-down (TerminateInstances, calling Hooks.OnTerminate) -> terminated (after
// shutdownDuration) -> gone (terminatedVisibility later, as AWS keeps terminated instances
// visible for about an hour).

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
)

const (
	// shutdownDuration is how long a terminated instance stays "shutting-down".
	shutdownDuration = 5 * time.Second
	// terminatedVisibility is how long a terminated instance stays visible (source: EC2 User
	// Guide, "Terminate Amazon EC2 instances": "remains visible ... for approximately one hour").
	terminatedVisibility = time.Hour
	// hookTimeout bounds one OnBoot/OnTerminate call.
	hookTimeout = 2 * time.Minute
)

// Instance state codes (source: EC2 API reference, InstanceState: the low byte).
var stateCodes = map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

type instance struct {
	id, instanceType, zone, subnetID, vpcID string
	hostOffset                              uint32
	privateIP, privateDNS                   string
	capacityType                            string  // "spot" or "on-demand"
	price                                   float64 // USD/hour at launch
	imageID, profileArn, userData           string  // userData: base64 as given
	sgIDs                                   []string
	launchTime, stateChanged                time.Time
	state                                   string
	spotRequestID, reservationID            string
	clientToken, architecture               string
	vcpus                                   int32
	threadsPerCore                          int32
	metadata                                metadataOptions
	blockDevices                            []blockDevice // from the launch template
	volumeIDs                               []string      // one per block device
	monitoring                              bool          // detailed monitoring
	stop                                    chan struct{} // closed when terminated before boot
}

// launchSpec is one fully resolved launch request for count instances of one pool.
type launchSpec struct {
	it            catalog.InstanceType
	subnet        *subnet
	capacityType  string
	imageID       string
	profile       string // name or ARN; "" for none
	profileIsArn  bool
	userData      string
	sgIDs         []string
	sgNames       []string
	tags          map[string]string
	metadata      metadataOptions
	blockDevices  []blockDevice
	monitoring    bool
	reservationID string
	clientToken   string
}

// pickSubnet resolves the subnet of a launch: the given one (which must lie in zone when both
// are given), else a subnet in zone, else the first subnet (by ID) whose zone offers the type.
// Caller holds e.mu.
func (s *ec2Store) pickSubnet(subnetID, zone string, it catalog.InstanceType) (*subnet, *apiError) {
	if subnetID != "" {
		sn := s.subnets[subnetID]
		if sn == nil {
			return nil, notFoundError(subnetID)
		}
		if zone != "" && sn.zone != zone {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Subnet %s is in %s, not in the requested availability zone %s", subnetID, sn.zone, zone)
		}
		return sn, nil
	}
	for _, id := range sortedKeys(s.subnets) {
		sn := s.subnets[id]
		if (zone != "" && sn.zone == zone) || (zone == "" && it.OfferedIn(sn.catalogZone)) {
			return sn, nil
		}
	}
	if zone != "" {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid availability zone: [%s]", zone)
	}
	return nil, errorf(http.StatusBadRequest, "Unsupported", "Your requested instance type (%s) is not supported in any availability zone of this VPC.", it.Name)
}

// poolPrice is the USD/hour price of a type in a subnet's zone for a capacity type.
func poolPrice(it catalog.InstanceType, sn *subnet, capacityType string) float64 {
	if capacityType == "spot" {
		return catalog.SpotPrice(it, sn.catalogZone)
	}
	return it.OnDemandPrice
}

// checkLaunch validates a launch the way EC2 does and returns the profile ARN. It reports
// InsufficientInstanceCapacity for faulted pools. Caller holds e.mu.
func (e *Emulator) checkLaunch(spec *launchSpec) (string, *apiError) {
	s := &e.state.ec2
	if !spec.it.OfferedIn(spec.subnet.catalogZone) {
		return "", errorf(http.StatusBadRequest, "Unsupported", "Your requested instance type (%s) is not supported in your requested Availability Zone (%s).", spec.it.Name, spec.subnet.zone)
	}
	if spec.imageID == "" {
		return "", errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter ImageId")
	}
	im := s.images[spec.imageID]
	if im == nil {
		return "", notFoundError(spec.imageID)
	}
	if im.architecture != spec.it.Architecture {
		return "", errorf(http.StatusBadRequest, "InvalidParameterValue", "The architecture '%s' of the specified instance type does not match the architecture '%s' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.", spec.it.Architecture, im.architecture)
	}
	for _, n := range spec.sgNames {
		found := ""
		for _, id := range sortedKeys(s.securityGroups) {
			if s.securityGroups[id].name == n {
				found = id
			}
		}
		if found == "" {
			return "", errorf(http.StatusBadRequest, "InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", n, spec.subnet.vpcID)
		}
		spec.sgIDs = append(spec.sgIDs, found)
	}
	spec.sgNames = nil
	for _, id := range spec.sgIDs {
		g := s.securityGroups[id]
		if g == nil {
			return "", notFoundError(id)
		}
		if g.vpcID != spec.subnet.vpcID {
			return "", errorf(http.StatusBadRequest, "InvalidParameter", "Security group %s and subnet %s belong to different networks.", id, spec.subnet.id)
		}
	}
	if len(spec.sgIDs) == 0 {
		spec.sgIDs = []string{SeedClusterSecurityGroupID}
	}
	arn := ""
	if spec.profile != "" {
		a, ok := e.state.iam.profileUsable(spec.profile)
		if !ok {
			field := "iamInstanceProfile.name"
			if spec.profileIsArn {
				field = "iamInstanceProfile.arn"
			}
			return "", errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter %s is invalid. Invalid IAM Instance Profile %s", spec.profile, field, strings.TrimPrefix(field, "iamInstanceProfile."))
		}
		arn = a
	}
	if e.state.faults.insufficientCapacity(spec.it.Name, spec.subnet.zone, spec.capacityType) {
		return "", errorf(http.StatusInternalServerError, "InsufficientInstanceCapacity",
			"We currently do not have sufficient %s capacity in the Availability Zone you requested (%s). Our system will be working on provisioning additional capacity. You can currently get %s capacity by not specifying an Availability Zone in your request or choosing a different Availability Zone.",
			spec.it.Name, spec.subnet.zone, spec.it.Name)
	}
	if sn := spec.subnet; sn.availableIPs() < 1 {
		return "", errorf(http.StatusBadRequest, "InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", sn.id)
	}
	return arn, nil
}

// allocateIP hands out the next free host address of the subnet.
func (sn *subnet) allocateIP() (uint32, string) {
	var off uint32
	if n := len(sn.released); n > 0 {
		off, sn.released = sn.released[n-1], sn.released[:n-1]
	} else {
		off = sn.nextHost
		sn.nextHost++
	}
	sn.allocated++
	base := binary.BigEndian.Uint32(sn.network.IP.To4())
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, base+off)
	return off, ip.String()
}

// launch creates count instances of a checked spec. Caller holds e.mu; the caller schedules
// their boot after unlocking.
func (e *Emulator) launch(spec launchSpec, profileArn string, count int) []*instance {
	s := &e.state.ec2
	now := s.clock.Now()
	threads := int32(2)
	if spec.it.Architecture == catalog.ArchARM64 || spec.it.VCPUs < 2 {
		threads = 1
	}
	var out []*instance
	for range count {
		if spec.subnet.availableIPs() < 1 {
			break
		}
		off, ip := spec.subnet.allocateIP()
		inst := &instance{
			id: newEC2ID("i"), instanceType: spec.it.Name, zone: spec.subnet.zone, subnetID: spec.subnet.id, vpcID: spec.subnet.vpcID,
			hostOffset: off, privateIP: ip, privateDNS: "ip-" + strings.ReplaceAll(ip, ".", "-") + "." + e.privateDNSDomain(),
			capacityType: spec.capacityType, price: poolPrice(spec.it, spec.subnet, spec.capacityType),
			imageID: spec.imageID, profileArn: profileArn, userData: spec.userData, sgIDs: append([]string{}, spec.sgIDs...),
			launchTime: now, stateChanged: now, state: "pending", reservationID: spec.reservationID, clientToken: spec.clientToken,
			architecture: spec.it.Architecture, vcpus: spec.it.VCPUs, threadsPerCore: threads, metadata: spec.metadata,
			blockDevices: spec.blockDevices, monitoring: spec.monitoring, stop: make(chan struct{}),
		}
		for range spec.blockDevices {
			inst.volumeIDs = append(inst.volumeIDs, newEC2ID("vol"))
		}
		if spec.capacityType == "spot" {
			inst.spotRequestID = "sir-" + strings.ToLower(hex.EncodeToString([]byte(inst.id[2:6])))
		}
		s.instances[inst.id] = inst
		if len(spec.tags) > 0 {
			s.tags[inst.id] = copyTags(spec.tags)
		}
		out = append(out, inst)
	}
	return out
}

// scheduleBoot starts the boot timer of freshly launched instances: Options.BootDelay, or what
// a BootFault says (faults.go). Called without e.mu.
func (e *Emulator) scheduleBoot(insts []*instance) {
	for _, inst := range insts {
		id, stop := inst.id, inst.stop
		delay := e.opts.BootDelay
		e.mu.Lock()
		faultDelay, never, faulted := e.state.faults.bootFor(inst.instanceType)
		e.mu.Unlock()
		if faulted && never {
			continue // stays pending until terminated
		}
		if faulted {
			delay = faultDelay
		}
		if delay <= 0 {
			go e.boot(id)
			continue
		}
		t := e.state.ec2.clock.NewTimer(delay)
		go func() {
			select {
			case <-t.C():
				e.boot(id)
			case <-stop:
				t.Stop()
			}
		}()
	}
}

// bootedInstance describes inst to the hooks. Caller holds e.mu.
func (e *Emulator) bootedInstance(inst *instance) BootedInstance {
	it, _ := catalog.Lookup(inst.instanceType)
	ud, _ := base64.StdEncoding.DecodeString(inst.userData)
	b := BootedInstance{InstanceID: inst.id, InstanceType: inst.instanceType, Zone: inst.zone, PrivateDNSName: inst.privateDNS,
		PrivateIPAddress: inst.privateIP, CapacityType: inst.capacityType, ImageID: inst.imageID, InstanceProfileArn: inst.profileArn,
		UserData: ud, Tags: copyTags(e.state.ec2.tags[inst.id]), VCPUs: it.VCPUs, MemoryMiB: it.MemoryMiB, GPUs: it.GPUs,
		Architecture: it.Architecture, MaxPods: it.MaxPods(), AMIFamily: "AL2"}
	if img := e.state.ec2.images[inst.imageID]; img != nil && img.family != "" {
		b.AMIFamily = img.family
	}
	for _, d := range inst.blockDevices {
		b.Volumes = append(b.Volumes, BootedVolume{DeviceName: d.DeviceName, SizeGiB: d.VolumeSizeGiB})
	}
	return b
}

// boot moves a pending instance to running and calls Hooks.OnBoot outside the lock.
func (e *Emulator) boot(id string) {
	e.mu.Lock()
	inst := e.state.ec2.instances[id]
	if inst == nil || inst.state != "pending" {
		e.mu.Unlock()
		return
	}
	inst.state, inst.stateChanged = "running", e.state.ec2.clock.Now()
	bi := e.bootedInstance(inst)
	e.mu.Unlock()
	if e.opts.Hooks.OnBoot == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
	defer cancel()
	if err := e.opts.Hooks.OnBoot(ctx, bi); err != nil {
		slog.Warn("emulated instance booted but did not join", "instance", id, "error", err)
	}
}

// refreshInstances applies the time-driven transitions shutting-down -> terminated -> gone.
// Caller holds e.mu.
func (s *ec2Store) refreshInstances() {
	now := s.clock.Now()
	for id, inst := range s.instances {
		if inst.state == "shutting-down" && now.Sub(inst.stateChanged) >= shutdownDuration {
			inst.state, inst.stateChanged = "terminated", inst.stateChanged.Add(shutdownDuration)
		}
		if inst.state == "terminated" && now.Sub(inst.stateChanged) >= terminatedVisibility {
			if sn := s.subnets[inst.subnetID]; sn != nil {
				sn.released = append(sn.released, inst.hostOffset)
			}
			delete(s.instances, id)
			delete(s.tags, id)
		}
	}
}

// --- XML shapes -----------------------------------------------------------------------------

type xmlInstanceState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type xmlPlacement struct {
	AvailabilityZone   string `xml:"availabilityZone"`
	AvailabilityZoneID string `xml:"availabilityZoneId,omitempty"`
	GroupName          string `xml:"groupName"`
	Tenancy            string `xml:"tenancy"`
}

type xmlGroup struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type xmlIamInstanceProfile struct {
	Arn string `xml:"arn"`
	ID  string `xml:"id"`
}

type xmlStateReason struct {
	Code    string `xml:"code"`
	Message string `xml:"message"`
}

type xmlCPUOptions struct {
	CoreCount      int32 `xml:"coreCount"`
	ThreadsPerCore int32 `xml:"threadsPerCore"`
}

type xmlMetadataOptions struct {
	State                   string `xml:"state"`
	HTTPTokens              string `xml:"httpTokens"`
	HTTPPutResponseHopLimit int64  `xml:"httpPutResponseHopLimit"`
	HTTPEndpoint            string `xml:"httpEndpoint"`
	HTTPProtocolIpv6        string `xml:"httpProtocolIpv6"`
	InstanceMetadataTags    string `xml:"instanceMetadataTags"`
}

// xmlInstanceBlockDev is an attached EBS volume of an instance (InstanceBlockDeviceMapping).
type xmlInstanceBlockDev struct {
	DeviceName          string `xml:"deviceName"`
	VolumeID            string `xml:"ebs>volumeId"`
	Status              string `xml:"ebs>status"`
	AttachTime          string `xml:"ebs>attachTime"`
	DeleteOnTermination bool   `xml:"ebs>deleteOnTermination"`
}

type xmlInstance struct {
	InstanceID            string                 `xml:"instanceId"`
	ImageID               string                 `xml:"imageId"`
	InstanceState         xmlInstanceState       `xml:"instanceState"`
	PrivateDNSName        string                 `xml:"privateDnsName"`
	DNSName               string                 `xml:"dnsName"`
	Reason                string                 `xml:"reason"`
	AmiLaunchIndex        int                    `xml:"amiLaunchIndex"`
	InstanceType          string                 `xml:"instanceType"`
	LaunchTime            string                 `xml:"launchTime"`
	Placement             xmlPlacement           `xml:"placement"`
	MonitoringState       string                 `xml:"monitoring>state"`
	SubnetID              string                 `xml:"subnetId"`
	VpcID                 string                 `xml:"vpcId"`
	PrivateIPAddress      string                 `xml:"privateIpAddress"`
	SourceDestCheck       bool                   `xml:"sourceDestCheck"`
	GroupSet              []xmlGroup             `xml:"groupSet>item"`
	StateReason           *xmlStateReason        `xml:"stateReason,omitempty"`
	Architecture          string                 `xml:"architecture"`
	RootDeviceType        string                 `xml:"rootDeviceType"`
	RootDeviceName        string                 `xml:"rootDeviceName"`
	InstanceLifecycle     string                 `xml:"instanceLifecycle,omitempty"`
	SpotInstanceRequestID string                 `xml:"spotInstanceRequestId,omitempty"`
	VirtualizationType    string                 `xml:"virtualizationType"`
	ClientToken           string                 `xml:"clientToken"`
	TagSet                []xmlTag               `xml:"tagSet>item"`
	Hypervisor            string                 `xml:"hypervisor"`
	IamInstanceProfile    *xmlIamInstanceProfile `xml:"iamInstanceProfile,omitempty"`
	EbsOptimized          bool                   `xml:"ebsOptimized"`
	EnaSupport            bool                   `xml:"enaSupport"`
	CPUOptions            xmlCPUOptions          `xml:"cpuOptions"`
	MetadataOptions       xmlMetadataOptions     `xml:"metadataOptions"`
	BlockDeviceMappings   []xmlInstanceBlockDev  `xml:"blockDeviceMapping>item"`
	PlatformDetails       string                 `xml:"platformDetails"`
	UsageOperation        string                 `xml:"usageOperation"`
}

type xmlReservation struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	RequesterID   string        `xml:"requesterId,omitempty"`
	GroupSet      []xmlGroup    `xml:"groupSet>item"`
	InstancesSet  []xmlInstance `xml:"instancesSet>item"`
}

// profileID derives a stable instance profile ID ("AIPA" + 17 characters) from its ARN.
func profileID(arn string) string {
	sum := sha1.Sum([]byte(arn))
	return "AIPA" + strings.ToUpper(hex.EncodeToString(sum[:]))[:17]
}

// xmlInstanceOf renders inst. Caller holds e.mu.
func (e *Emulator) xmlInstanceOf(inst *instance, launchIndex int) xmlInstance {
	s := &e.state.ec2
	zoneID := ""
	if sn := s.subnets[inst.subnetID]; sn != nil {
		zoneID = sn.zoneID
	}
	x := xmlInstance{
		InstanceID: inst.id, ImageID: inst.imageID, InstanceState: xmlInstanceState{Code: stateCodes[inst.state], Name: inst.state},
		PrivateDNSName: inst.privateDNS, AmiLaunchIndex: launchIndex, InstanceType: inst.instanceType,
		LaunchTime: inst.launchTime.UTC().Format(ec2TimeFormat),
		Placement:  xmlPlacement{AvailabilityZone: inst.zone, AvailabilityZoneID: zoneID, Tenancy: "default"}, MonitoringState: "disabled",
		SubnetID: inst.subnetID, VpcID: inst.vpcID, PrivateIPAddress: inst.privateIP, SourceDestCheck: true,
		Architecture: inst.architecture, RootDeviceType: "ebs", RootDeviceName: "/dev/xvda", VirtualizationType: "hvm",
		ClientToken: inst.clientToken, TagSet: tagSet(s.tags[inst.id]), Hypervisor: "xen", EbsOptimized: true, EnaSupport: true,
		CPUOptions:      xmlCPUOptions{CoreCount: max(inst.vcpus/inst.threadsPerCore, 1), ThreadsPerCore: inst.threadsPerCore},
		PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances",
	}
	if inst.monitoring {
		x.MonitoringState = "enabled"
	}
	if img := s.images[inst.imageID]; img != nil && img.family == "Ubuntu" {
		x.RootDeviceName = "/dev/sda1"
	}
	for i, b := range inst.blockDevices {
		x.BlockDeviceMappings = append(x.BlockDeviceMappings, xmlInstanceBlockDev{DeviceName: b.DeviceName, VolumeID: inst.volumeIDs[i],
			Status: "attached", AttachTime: inst.launchTime.UTC().Format(ec2TimeFormat), DeleteOnTermination: b.DeleteOnTermination})
	}
	md := inst.metadata
	x.MetadataOptions = xmlMetadataOptions{State: "applied", HTTPTokens: or(md.HTTPTokens, "required"), HTTPPutResponseHopLimit: md.HopLimit,
		HTTPEndpoint: or(md.HTTPEndpoint, "enabled"), HTTPProtocolIpv6: or(md.HTTPProtocolIPv6, "disabled"), InstanceMetadataTags: or(md.InstanceMetadataTags, "disabled")}
	if x.MetadataOptions.HTTPPutResponseHopLimit == 0 {
		x.MetadataOptions.HTTPPutResponseHopLimit = 1
	}
	if inst.state == "pending" && inst.launchTime.Equal(inst.stateChanged) {
		x.MetadataOptions.State = "pending"
	}
	for _, id := range inst.sgIDs {
		name := ""
		if g := s.securityGroups[id]; g != nil {
			name = g.name
		}
		x.GroupSet = append(x.GroupSet, xmlGroup{GroupID: id, GroupName: name})
	}
	if inst.state == "shutting-down" || inst.state == "terminated" {
		x.StateReason = &xmlStateReason{Code: "Client.UserInitiatedShutdown", Message: "Client.UserInitiatedShutdown: User initiated shutdown"}
		x.Reason = fmt.Sprintf("User initiated (%s)", inst.stateChanged.UTC().Format("2006-01-02 15:04:05 MST"))
		x.PrivateDNSName = ""
		if inst.state == "terminated" {
			x.PrivateIPAddress = ""
		}
	}
	if inst.capacityType == "spot" {
		x.InstanceLifecycle, x.SpotInstanceRequestID = "spot", inst.spotRequestID
	}
	if inst.profileArn != "" {
		x.IamInstanceProfile = &xmlIamInstanceProfile{Arn: inst.profileArn, ID: profileID(inst.profileArn)}
	}
	return x
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// --- RunInstances ---------------------------------------------------------------------------

// runInstances launches MaxCount instances of one pool (the emulator's capacity is unlimited
// except for faulted pools, which fail the whole request with InsufficientInstanceCapacity,
// HTTP 500, as EC2 does).
func (e *Emulator) runInstances(form url.Values) (any, *apiError) {
	minCount, err := formInt(form, "MinCount", 0)
	if err != nil {
		return nil, err
	}
	maxCount, err := formInt(form, "MaxCount", 0)
	if err != nil {
		return nil, err
	}
	switch {
	case form.Get("MinCount") == "" || form.Get("MaxCount") == "":
		return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameters MinCount and MaxCount")
	case minCount < 1 || maxCount < 1:
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "MinCount and MaxCount must be at least 1 (MinCount=%d, MaxCount=%d)", minCount, maxCount)
	case minCount > maxCount:
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "MinCount (%d) must not exceed MaxCount (%d)", minCount, maxCount)
	case maxCount > 1000:
		return nil, errorf(http.StatusBadRequest, "InstanceLimitExceeded", "You have requested more instances (%d) than your current instance limit of 1000 allows.", maxCount)
	}
	own, err := parseLaunchData(form, "")
	if err != nil {
		return nil, err
	}
	specs, err := parseTagSpecs(form, "TagSpecification", "instance", "volume", "network-interface", "spot-instances-request")
	if err != nil {
		return nil, err
	}
	capacityType := "on-demand"
	if own.SpotMarket {
		capacityType = "spot"
	}
	ltID, ltName := form.Get("LaunchTemplate.LaunchTemplateId"), form.Get("LaunchTemplate.LaunchTemplateName")

	e.mu.Lock()
	s := &e.state.ec2
	data := own
	tags := map[string]string{}
	if ltID != "" || ltName != "" {
		lt, err := s.findLaunchTemplate(ltID, ltName)
		if err != nil {
			e.mu.Unlock()
			return nil, err
		}
		if err := checkVersion(lt, form.Get("LaunchTemplate.Version")); err != nil {
			e.mu.Unlock()
			return nil, err
		}
		data = mergeLaunchData(lt.data, own)
		for k, v := range tagsFor(lt.data.TagSpecs, "instance") {
			tags[k] = v
		}
		tags["aws:ec2launchtemplate:id"], tags["aws:ec2launchtemplate:version"] = lt.id, "1"
		if lt.data.SpotMarket {
			capacityType = "spot"
		}
	}
	for k, v := range tagsFor(specs, "instance") {
		tags[k] = v
	}
	if data.InstanceType == "" {
		e.mu.Unlock()
		return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter InstanceType")
	}
	it, ok := catalog.Lookup(data.InstanceType)
	if !ok {
		e.mu.Unlock()
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid value '%s' for InstanceType.", data.InstanceType)
	}
	sn, err := s.pickSubnet(form.Get("SubnetId"), form.Get("Placement.AvailabilityZone"), it)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	spec := launchSpec{it: it, subnet: sn, capacityType: capacityType, imageID: data.ImageID, userData: data.UserData,
		sgIDs: data.SecurityGroupIDs, sgNames: data.SecurityGroupNames, tags: tags, metadata: data.Metadata,
		blockDevices: data.BlockDevices, monitoring: data.Monitoring, reservationID: newEC2ID("r"), clientToken: form.Get("ClientToken")}
	spec.profile, spec.profileIsArn = data.ProfileName, false
	if data.ProfileArn != "" {
		spec.profile, spec.profileIsArn = data.ProfileArn, true
	}
	arn, err := e.checkLaunch(&spec)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	if spec.subnet.availableIPs() < int(minCount) {
		e.mu.Unlock()
		return nil, errorf(http.StatusBadRequest, "InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", spec.subnet.id)
	}
	insts := e.launch(spec, arn, int(maxCount))
	res := xmlReservation{ReservationID: spec.reservationID, OwnerID: e.opts.AccountID}
	for i, inst := range insts {
		res.InstancesSet = append(res.InstancesSet, e.xmlInstanceOf(inst, i))
	}
	e.mu.Unlock()
	e.scheduleBoot(insts)
	return res, nil
}

// mergeLaunchData overlays explicitly given request parameters on a template's data.
func mergeLaunchData(base, over launchTemplateData) launchTemplateData {
	out := base
	if over.ImageID != "" {
		out.ImageID = over.ImageID
	}
	if over.InstanceType != "" {
		out.InstanceType = over.InstanceType
	}
	if over.ProfileName != "" || over.ProfileArn != "" {
		out.ProfileName, out.ProfileArn = over.ProfileName, over.ProfileArn
	}
	if over.UserData != "" {
		out.UserData = over.UserData
	}
	if len(over.SecurityGroupIDs) > 0 || len(over.SecurityGroupNames) > 0 {
		out.SecurityGroupIDs, out.SecurityGroupNames = over.SecurityGroupIDs, over.SecurityGroupNames
	}
	if over.Metadata != (metadataOptions{HopLimit: 1}) {
		out.Metadata = over.Metadata
	}
	if over.SpotMarket {
		out.SpotMarket = true
	}
	if len(over.BlockDevices) > 0 {
		out.BlockDevices = over.BlockDevices
	}
	if over.Monitoring {
		out.Monitoring = true
	}
	return out
}

// --- CreateFleet ----------------------------------------------------------------------------

type xmlFleetLTSpec struct {
	LaunchTemplateID   string `xml:"launchTemplateId,omitempty"`
	LaunchTemplateName string `xml:"launchTemplateName,omitempty"`
	Version            string `xml:"version,omitempty"`
}

type xmlFleetOverrides struct {
	InstanceType     string   `xml:"instanceType,omitempty"`
	MaxPrice         string   `xml:"maxPrice,omitempty"`
	SubnetID         string   `xml:"subnetId,omitempty"`
	AvailabilityZone string   `xml:"availabilityZone,omitempty"`
	WeightedCapacity *float64 `xml:"weightedCapacity,omitempty"`
	Priority         *float64 `xml:"priority,omitempty"`
	ImageID          string   `xml:"imageId,omitempty"`
}

type xmlLTAndOverrides struct {
	LaunchTemplateSpecification xmlFleetLTSpec     `xml:"launchTemplateSpecification"`
	Overrides                   *xmlFleetOverrides `xml:"overrides,omitempty"`
}

type xmlFleetInstance struct {
	LaunchTemplateAndOverrides xmlLTAndOverrides `xml:"launchTemplateAndOverrides"`
	Lifecycle                  string            `xml:"lifecycle"`
	InstanceIDs                []string          `xml:"instanceIds>item"`
	InstanceType               string            `xml:"instanceType"`
	SubnetID                   string            `xml:"subnetId,omitempty"`
	AvailabilityZone           string            `xml:"availabilityZone,omitempty"`
}

type xmlFleetError struct {
	LaunchTemplateAndOverrides xmlLTAndOverrides `xml:"launchTemplateAndOverrides"`
	Lifecycle                  string            `xml:"lifecycle"`
	ErrorCode                  string            `xml:"errorCode"`
	ErrorMessage               string            `xml:"errorMessage"`
}

type createFleetResult struct {
	FleetID          string             `xml:"fleetId"`
	ErrorSet         []xmlFleetError    `xml:"errorSet>item"`
	FleetInstanceSet []xmlFleetInstance `xml:"fleetInstanceSet>item"`
}

// fleetPool is one (launch template config, override) pair of a CreateFleet request.
type fleetPool struct {
	index    int // input order
	echo     xmlLTAndOverrides
	lt       *launchTemplate
	it       catalog.InstanceType
	subnet   *subnet
	imageID  string
	priority *float64
	maxPrice float64 // 0: none
	weight   float64
	err      *apiError // resolution error (unknown type, subnet...)
}

func parseFloatField(v url.Values, key, path string) (*float64, *apiError) {
	s := v.Get(key)
	if s == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter %s.%s is invalid: not a non-negative number", s, path, key)
	}
	return &f, nil
}

var (
	spotStrategies     = []string{"lowest-price", "price-capacity-optimized", "capacity-optimized", "capacity-optimized-prioritized", "diversified"}
	onDemandStrategies = []string{"lowest-price", "prioritized"}
)

// fleetRequest is a validated CreateFleet request, before its launch templates are resolved.
type fleetRequest struct {
	total            int64  // TotalTargetCapacity
	defaultType      string // DefaultTargetCapacityType: "spot" or "on-demand"
	onDemandTarget   int64  // the default type's target is total minus the other's
	spotTarget       int64
	onDemandStrategy string
	spotStrategy     string
	specs            []tagSpec
	configs          []url.Values // LaunchTemplateConfigs, 1 to 50
}

// createFleet implements CreateFleet with Type=instant. Pools are ordered by the capacity
// type's allocation strategy:
//   - lowest-price and price-capacity-optimized: cheapest first (price for the capacity type in
//     the pool's zone); the emulator models every unfaulted pool as having unlimited capacity,
//     so "capacity" only removes faulted pools, which fail with InsufficientInstanceCapacity;
//   - capacity-optimized: input order (all pools are equally deep);
//   - capacity-optimized-prioritized and prioritized: Priority ascending (unset last), then input
//     order;
//   - diversified: capacity spread one unit at a time round-robin over the cheapest-first pools.
//
// Each capacity type's target is filled from the first pool that can launch; pools that cannot
// add one error each to errorSet (as AWS reports per-override errors). With MinTargetCapacity
// (validated) is met by construction: a ready pool takes the whole target, and with no ready
// pool nothing launches. SingleInstanceType and SingleAvailabilityZone hold by construction
// except for diversified.
func (e *Emulator) createFleet(form url.Values) (any, *apiError) {
	req, err := parseFleetRequest(form)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	s := &e.state.ec2
	res := createFleetResult{FleetID: "fleet-" + uuid.NewString()}
	pools, lterrs, err := s.resolveFleetPools(req.configs, req.defaultType)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	res.ErrorSet = lterrs
	launched := e.launchFleet(pools, req, &res)
	e.mu.Unlock()
	e.scheduleBoot(launched)
	return res, nil
}

// parseFleetRequest validates the request-wide parameters of CreateFleet: Type (instant only),
// the target capacities, the allocation strategies, the MinTargetCapacity bounds, the tag
// specifications and the number of launch template configurations.
func parseFleetRequest(form url.Values) (fleetRequest, *apiError) {
	if t := form.Get("Type"); t != "instant" {
		return fleetRequest{}, errorf(http.StatusBadRequest, "Unsupported", "The sandbox emulates CreateFleet with Type=instant only (got Type=%q).", t)
	}
	req, err := parseFleetTargets(formSub(form, "TargetCapacitySpecification"))
	if err != nil {
		return fleetRequest{}, err
	}
	req.spotStrategy = or(form.Get("SpotOptions.AllocationStrategy"), "lowest-price")
	if !contains(spotStrategies, req.spotStrategy) {
		return fleetRequest{}, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter SpotOptions.AllocationStrategy is invalid. Expecting one of: %s.", req.spotStrategy, strings.Join(spotStrategies, ", "))
	}
	req.onDemandStrategy = or(form.Get("OnDemandOptions.AllocationStrategy"), "lowest-price")
	if !contains(onDemandStrategies, req.onDemandStrategy) {
		return fleetRequest{}, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter OnDemandOptions.AllocationStrategy is invalid. Expecting one of: %s.", req.onDemandStrategy, strings.Join(onDemandStrategies, ", "))
	}
	for _, k := range []string{"SpotOptions.MinTargetCapacity", "OnDemandOptions.MinTargetCapacity"} {
		n, err := formInt(form, k, 0)
		if err != nil {
			return fleetRequest{}, err
		}
		if n < 0 || n > req.total {
			return fleetRequest{}, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%d) for parameter %s is invalid: must be within [0, TotalTargetCapacity]", n, k)
		}
	}
	if req.specs, err = parseTagSpecs(form, "TagSpecification", "instance", "volume", "fleet", "network-interface", "spot-instances-request"); err != nil {
		return fleetRequest{}, err
	}
	req.configs = formObjects(form, "LaunchTemplateConfigs")
	if len(req.configs) == 0 {
		return fleetRequest{}, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter LaunchTemplateConfigs")
	}
	if len(req.configs) > 50 {
		return fleetRequest{}, errorf(http.StatusBadRequest, "InvalidParameterValue", "LaunchTemplateConfigs: at most 50 launch template configurations are allowed, got %d", len(req.configs))
	}
	return req, nil
}

// parseFleetTargets validates a TargetCapacitySpecification and returns a fleetRequest holding
// its total, default capacity type and per-type targets, the default type taking whatever of
// the total the other type's explicit target leaves.
func parseFleetTargets(tcs url.Values) (fleetRequest, *apiError) {
	var req fleetRequest
	var err *apiError
	if req.total, err = formInt(tcs, "TotalTargetCapacity", -1); err != nil {
		return req, err
	}
	total := req.total
	if total < 1 {
		return req, errorf(http.StatusBadRequest, "MissingParameter", "TargetCapacitySpecification.TotalTargetCapacity must be given and at least 1")
	}
	if req.onDemandTarget, err = formInt(tcs, "OnDemandTargetCapacity", 0); err != nil {
		return req, err
	}
	if req.spotTarget, err = formInt(tcs, "SpotTargetCapacity", 0); err != nil {
		return req, err
	}
	req.defaultType = tcs.Get("DefaultTargetCapacityType")
	if req.defaultType != "spot" && req.defaultType != "on-demand" {
		return req, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter TargetCapacitySpecification.DefaultTargetCapacityType is invalid. Expecting spot or on-demand.", req.defaultType)
	}
	if req.onDemandTarget < 0 || req.spotTarget < 0 || req.onDemandTarget+req.spotTarget > total {
		return req, errorf(http.StatusBadRequest, "InvalidTargetCapacitySpecification", "OnDemandTargetCapacity (%d) plus SpotTargetCapacity (%d) must not exceed TotalTargetCapacity (%d)", req.onDemandTarget, req.spotTarget, total)
	}
	if req.defaultType == "spot" {
		req.spotTarget = total - req.onDemandTarget
	} else {
		req.onDemandTarget = total - req.spotTarget
	}
	return req, nil
}

// resolveFleetPools turns the launch template configurations into pools, one per override (or
// one per configuration without overrides), in input order. A configuration whose launch
// template or version does not resolve adds an error (lifecycle defaultType) instead; a
// malformed override number fails the whole request. Caller holds e.mu.
func (s *ec2Store) resolveFleetPools(configs []url.Values, defaultType string) ([]*fleetPool, []xmlFleetError, *apiError) {
	var pools []*fleetPool
	var errs []xmlFleetError
	for ci, cfg := range configs {
		path := fmt.Sprintf("LaunchTemplateConfigs.%d", ci+1)
		lts := formSub(cfg, "LaunchTemplateSpecification")
		echoSpec := xmlFleetLTSpec{LaunchTemplateID: lts.Get("LaunchTemplateId"), LaunchTemplateName: lts.Get("LaunchTemplateName"), Version: lts.Get("Version")}
		lt, lerr := s.findLaunchTemplate(echoSpec.LaunchTemplateID, echoSpec.LaunchTemplateName)
		if lerr == nil {
			lerr = checkVersion(lt, echoSpec.Version)
		}
		if lerr != nil {
			errs = append(errs, xmlFleetError{LaunchTemplateAndOverrides: xmlLTAndOverrides{LaunchTemplateSpecification: echoSpec},
				Lifecycle: defaultType, ErrorCode: lerr.Code, ErrorMessage: lerr.Message})
			continue
		}
		overrides := formObjects(cfg, "Overrides")
		if len(overrides) == 0 {
			overrides = []url.Values{{}}
		}
		for oi, o := range overrides {
			opath := fmt.Sprintf("%s.Overrides.%d", path, oi+1)
			p, err := s.fleetPoolOf(lt, echoSpec.Version, o, opath, len(pools))
			if err != nil {
				return nil, nil, err
			}
			pools = append(pools, p)
		}
	}
	return pools, errs, nil
}

// fleetPoolOf builds the pool (input position index) of one override o (at request path
// opath) of launch template lt, requested at version. Malformed Priority, WeightedCapacity or
// MaxPrice values are returned as the error; an unresolvable instance type or subnet is kept
// in the pool's err, to be reported in the fleet's errorSet. Caller holds e.mu.
func (s *ec2Store) fleetPoolOf(lt *launchTemplate, version string, o url.Values, opath string, index int) (*fleetPool, *apiError) {
	p := &fleetPool{index: index, lt: lt, imageID: or(o.Get("ImageId"), lt.data.ImageID), weight: 1}
	echo := &xmlFleetOverrides{InstanceType: o.Get("InstanceType"), MaxPrice: o.Get("MaxPrice"), SubnetID: o.Get("SubnetId"),
		AvailabilityZone: o.Get("AvailabilityZone"), ImageID: o.Get("ImageId")}
	var err *apiError
	if p.priority, err = parseFloatField(o, "Priority", opath); err != nil {
		return nil, err
	}
	echo.Priority = p.priority
	w, err := parseFloatField(o, "WeightedCapacity", opath)
	if err != nil {
		return nil, err
	}
	if w != nil {
		if *w <= 0 {
			return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "%s.WeightedCapacity must be positive", opath)
		}
		p.weight, echo.WeightedCapacity = *w, w
	}
	mp, err := parseFloatField(o, "MaxPrice", opath)
	if err != nil {
		return nil, err
	}
	if mp != nil {
		p.maxPrice = *mp
	}
	if len(o) == 0 {
		echo = nil
	}
	p.echo = xmlLTAndOverrides{LaunchTemplateSpecification: xmlFleetLTSpec{LaunchTemplateID: lt.id, Version: or(version, "1")}, Overrides: echo}
	typeName := or(o.Get("InstanceType"), lt.data.InstanceType)
	it, ok := catalog.Lookup(typeName)
	switch {
	case typeName == "":
		p.err = errorf(http.StatusBadRequest, "MissingParameter", "%s.InstanceType: no instance type in the override or the launch template", opath)
	case !ok:
		p.err = errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid value '%s' for InstanceType (%s.InstanceType).", typeName, opath)
	default:
		p.it = it
		p.subnet, p.err = s.pickSubnet(o.Get("SubnetId"), o.Get("AvailabilityZone"), it)
	}
	return p, nil
}

// launchFleet fills the on-demand then the spot target of req from pools, appends the
// launched instances and per-pool errors to res, tags every instance with the fleet's ID
// (aws:ec2:fleet-id) and returns the instances, whose boot the caller schedules after
// unlocking. Caller holds e.mu.
func (e *Emulator) launchFleet(pools []*fleetPool, req fleetRequest, res *createFleetResult) []*instance {
	s := &e.state.ec2
	var launched []*instance
	for _, ct := range []struct {
		capacityType, strategy string
		target                 int64
	}{{"on-demand", req.onDemandStrategy, req.onDemandTarget}, {"spot", req.spotStrategy, req.spotTarget}} {
		if ct.target <= 0 {
			continue
		}
		insts, fis, errs := e.fillFleet(pools, req.specs, ct.capacityType, ct.strategy, float64(ct.target))
		launched = append(launched, insts...)
		res.FleetInstanceSet = append(res.FleetInstanceSet, fis...)
		res.ErrorSet = append(res.ErrorSet, errs...)
	}
	for _, inst := range launched {
		if s.tags[inst.id] == nil {
			s.tags[inst.id] = map[string]string{}
		}
		s.tags[inst.id]["aws:ec2:fleet-id"] = res.FleetID
	}
	return launched
}

// fillFleet plans and launches one capacity type's share of a fleet. Caller holds e.mu.
func (e *Emulator) fillFleet(pools []*fleetPool, specs []tagSpec, capacityType, strategy string, target float64) ([]*instance, []xmlFleetInstance, []xmlFleetError) {
	var errs []xmlFleetError
	fail := func(p *fleetPool, err *apiError) {
		errs = append(errs, xmlFleetError{LaunchTemplateAndOverrides: p.echo, Lifecycle: capacityType, ErrorCode: err.Code, ErrorMessage: err.Message})
	}
	// Resolve and check every pool; keep those that can launch.
	type ready struct {
		p     *fleetPool
		spec  launchSpec
		arn   string
		price float64
	}
	var ok []ready
	for _, p := range pools {
		if p.err != nil {
			fail(p, p.err)
			continue
		}
		d := p.lt.data
		tags := tagsFor(d.TagSpecs, "instance")
		for k, v := range tagsFor(specs, "instance") {
			tags[k] = v
		}
		tags["aws:ec2launchtemplate:id"], tags["aws:ec2launchtemplate:version"] = p.lt.id, "1"
		spec := launchSpec{it: p.it, subnet: p.subnet, capacityType: capacityType, imageID: p.imageID, userData: d.UserData,
			sgIDs: append([]string{}, d.SecurityGroupIDs...), sgNames: d.SecurityGroupNames, tags: tags, metadata: d.Metadata,
			blockDevices: d.BlockDevices, monitoring: d.Monitoring, reservationID: newEC2ID("r")}
		spec.profile, spec.profileIsArn = d.ProfileName, false
		if d.ProfileArn != "" {
			spec.profile, spec.profileIsArn = d.ProfileArn, true
		}
		price := poolPrice(p.it, p.subnet, capacityType)
		if capacityType == "spot" && p.maxPrice > 0 && price > p.maxPrice {
			fail(p, errorf(http.StatusBadRequest, "SpotMaxPriceTooLow", "Your Spot request price of %g is lower than the minimum required Spot request fulfillment price of %g.", p.maxPrice, price))
			continue
		}
		arn, err := e.checkLaunch(&spec)
		if err != nil {
			fail(p, err)
			continue
		}
		ok = append(ok, ready{p, spec, arn, price})
	}
	switch strategy {
	case "lowest-price", "price-capacity-optimized", "diversified":
		sort.SliceStable(ok, func(i, j int) bool { return ok[i].price < ok[j].price })
	case "capacity-optimized-prioritized", "prioritized":
		sort.SliceStable(ok, func(i, j int) bool {
			pi, pj := ok[i].p.priority, ok[j].p.priority
			switch {
			case pi == nil:
				return false
			case pj == nil:
				return true
			}
			return *pi < *pj
		})
	}
	// Plan: instances per ready pool. Every ready pool can take the whole target, so the
	// capacity launched is at least the target (and any MinTargetCapacity) whenever one pool is
	// ready, and zero otherwise.
	counts := make([]int, len(ok))
	if strategy == "diversified" {
		for i, remaining := 0, target; remaining > 0 && len(ok) > 0; i = (i + 1) % len(ok) {
			counts[i]++
			remaining -= ok[i].p.weight
		}
	} else if len(ok) > 0 {
		counts[0] = int(math.Ceil(target / ok[0].p.weight))
	}
	if len(ok) == 0 {
		return nil, nil, errs
	}
	var insts []*instance
	var fis []xmlFleetInstance
	for i, r := range ok {
		if counts[i] == 0 {
			continue
		}
		got := e.launch(r.spec, r.arn, counts[i])
		if len(got) < counts[i] {
			fail(r.p, errorf(http.StatusBadRequest, "InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", r.spec.subnet.id))
		}
		if len(got) == 0 {
			continue
		}
		fi := xmlFleetInstance{LaunchTemplateAndOverrides: r.p.echo, Lifecycle: capacityType, InstanceType: r.p.it.Name,
			SubnetID: r.spec.subnet.id, AvailabilityZone: r.spec.subnet.zone}
		for _, inst := range got {
			fi.InstanceIDs = append(fi.InstanceIDs, inst.id)
		}
		insts = append(insts, got...)
		fis = append(fis, fi)
	}
	return insts, fis, errs
}

// --- DescribeInstances ----------------------------------------------------------------------

type describeInstancesResult struct {
	ReservationSet []xmlReservation `xml:"reservationSet>item"`
	NextToken      string           `xml:"nextToken,omitempty"`
}

// instanceAttr gives the DescribeInstances filter values of inst. Caller holds e.mu.
func (e *Emulator) instanceAttr(inst *instance) attrFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "instance-id":
			return []string{inst.id}, true
		case "instance-state-name":
			return []string{inst.state}, true
		case "instance-state-code":
			return []string{strconv.Itoa(stateCodes[inst.state])}, true
		case "instance-type":
			return []string{inst.instanceType}, true
		case "availability-zone":
			return []string{inst.zone}, true
		case "private-dns-name":
			return []string{inst.privateDNS}, true
		case "private-ip-address":
			return []string{inst.privateIP}, true
		case "instance-lifecycle":
			if inst.capacityType == "spot" {
				return []string{"spot"}, true
			}
			return nil, true
		case "subnet-id":
			return []string{inst.subnetID}, true
		case "vpc-id":
			return []string{inst.vpcID}, true
		case "image-id":
			return []string{inst.imageID}, true
		case "architecture":
			return []string{inst.architecture}, true
		case "reservation-id":
			return []string{inst.reservationID}, true
		case "client-token":
			return []string{inst.clientToken}, true
		case "iam-instance-profile.arn":
			return []string{inst.profileArn}, true
		case "spot-instance-request-id":
			return []string{inst.spotRequestID}, true
		case "instance.group-id", "group-id":
			return inst.sgIDs, true
		case "launch-time":
			return []string{inst.launchTime.UTC().Format(ec2TimeFormat)}, true
		}
		return nil, false
	}
}

// sortedInstances returns instances by launch time, then ID. Caller holds e.mu.
func (s *ec2Store) sortedInstances() []*instance {
	out := make([]*instance, 0, len(s.instances))
	for _, inst := range s.instances {
		out = append(out, inst)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].launchTime.Equal(out[j].launchTime) {
			return out[i].launchTime.Before(out[j].launchTime)
		}
		return out[i].id < out[j].id
	})
	return out
}

func (e *Emulator) describeInstances(form url.Values) (any, *apiError) {
	filters, err := parseFilters(form)
	if err != nil {
		return nil, err
	}
	ids := formList(form, "InstanceId")
	if len(ids) > 0 && form.Get("MaxResults") != "" {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	for _, id := range ids {
		if !validEC2ID("i", id) {
			return nil, errorf(http.StatusBadRequest, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.ec2
	s.refreshInstances()
	var missing []string
	for _, id := range ids {
		if s.instances[id] == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, errorf(http.StatusBadRequest, "InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
	}
	offset, size, err := s.pageParams(form, "DescribeInstances", 5, 1000, 0)
	if err != nil {
		return nil, err
	}
	var match []*instance
	for _, inst := range s.sortedInstances() {
		if len(ids) > 0 && !contains(ids, inst.id) {
			continue
		}
		ok, err := matchFilters(filters, s.tags[inst.id], e.instanceAttr(inst))
		if err != nil {
			return nil, err
		}
		if ok {
			match = append(match, inst)
		}
	}
	lo, hi, next := s.page("DescribeInstances", form, len(match), offset, size)
	res := describeInstancesResult{NextToken: next}
	for i, inst := range match[lo:hi] {
		if n := len(res.ReservationSet); n == 0 || res.ReservationSet[n-1].ReservationID != inst.reservationID {
			res.ReservationSet = append(res.ReservationSet, xmlReservation{ReservationID: inst.reservationID, OwnerID: e.opts.AccountID})
		}
		r := &res.ReservationSet[len(res.ReservationSet)-1]
		r.InstancesSet = append(r.InstancesSet, e.xmlInstanceOf(inst, i))
	}
	return res, nil
}

// --- TerminateInstances ---------------------------------------------------------------------

type xmlStateChange struct {
	InstanceID    string           `xml:"instanceId"`
	CurrentState  xmlInstanceState `xml:"currentState"`
	PreviousState xmlInstanceState `xml:"previousState"`
}

type terminateInstancesResult struct {
	InstancesSet []xmlStateChange `xml:"instancesSet>item"`
}

// terminateInstances moves pending/running instances to shutting-down and calls
// Hooks.OnTerminate for each (outside the lock). Any unknown ID fails the whole request, as on
// EC2; terminating an already terminated instance reports its unchanged state.
func (e *Emulator) terminateInstances(form url.Values) (any, *apiError) {
	ids := formList(form, "InstanceId")
	if len(ids) == 0 {
		return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter InstanceId")
	}
	if len(ids) > 1000 {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "At most 1000 instance IDs may be terminated per request, got %d", len(ids))
	}
	for _, id := range ids {
		if !validEC2ID("i", id) {
			return nil, errorf(http.StatusBadRequest, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
		}
	}
	e.mu.Lock()
	s := &e.state.ec2
	s.refreshInstances()
	var missing []string
	for _, id := range ids {
		if s.instances[id] == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		e.mu.Unlock()
		return nil, errorf(http.StatusBadRequest, "InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
	}
	now := s.clock.Now()
	var res terminateInstancesResult
	var stopped []BootedInstance
	for _, id := range ids {
		inst := s.instances[id]
		prev := xmlInstanceState{Code: stateCodes[inst.state], Name: inst.state}
		if inst.state == "pending" || inst.state == "running" {
			if inst.state == "pending" {
				close(inst.stop)
			}
			stopped = append(stopped, e.bootedInstance(inst))
			inst.state, inst.stateChanged = "shutting-down", now
		}
		res.InstancesSet = append(res.InstancesSet, xmlStateChange{InstanceID: id, PreviousState: prev,
			CurrentState: xmlInstanceState{Code: stateCodes[inst.state], Name: inst.state}})
	}
	e.mu.Unlock()
	if h := e.opts.Hooks.OnTerminate; h != nil {
		for _, bi := range stopped {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
				defer cancel()
				if err := h(ctx, bi); err != nil {
					slog.Warn("emulated instance terminate hook failed", "instance", bi.InstanceID, "error", err)
				}
			}()
		}
	}
	return res, nil
}

// --- control API view -----------------------------------------------------------------------

// InstanceInfo is one EC2 instance as GET /_sandbox/instances and Emulator.Instances report it.
type InstanceInfo struct {
	ID                 string            `json:"id"`
	InstanceType       string            `json:"instanceType"`
	Zone               string            `json:"zone"`
	CapacityType       string            `json:"capacityType"` // "spot" or "on-demand"
	State              string            `json:"state"`        // pending, running, shutting-down, terminated
	PriceUSDPerHour    float64           `json:"priceUSDPerHour"`
	LaunchTime         time.Time         `json:"launchTime"`
	PrivateDNSName     string            `json:"privateDnsName"`
	PrivateIPAddress   string            `json:"privateIpAddress"`
	SubnetID           string            `json:"subnetId"`
	ImageID            string            `json:"imageId"`
	InstanceProfileArn string            `json:"instanceProfileArn,omitempty"`
	Tags               map[string]string `json:"tags"`
}

// Instances returns every instance still visible (terminated ones for about an hour), by launch
// time then ID, with the price (USD/hour) recorded at launch.
func (e *Emulator) Instances() []InstanceInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := &e.state.ec2
	s.refreshInstances()
	out := []InstanceInfo{}
	for _, inst := range s.sortedInstances() {
		out = append(out, InstanceInfo{ID: inst.id, InstanceType: inst.instanceType, Zone: inst.zone, CapacityType: inst.capacityType,
			State: inst.state, PriceUSDPerHour: inst.price, LaunchTime: inst.launchTime.UTC(), PrivateDNSName: inst.privateDNS,
			PrivateIPAddress: inst.privateIP, SubnetID: inst.subnetID, ImageID: inst.imageID, InstanceProfileArn: inst.profileArn,
			Tags: copyTags(s.tags[inst.id])})
	}
	return out
}
