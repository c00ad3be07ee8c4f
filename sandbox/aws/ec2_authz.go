package aws

// Authorisation of EC2 calls made with temporary credentials (Service Authorization Reference,
// "Actions, resources, and condition keys for Amazon EC2"; EC2 User Guide, "Grant permission
// to tag resources during creation"). Each call becomes the list of (action, resource ARN,
// condition keys) requests EC2 evaluates; every one must be allowed:
//
//   - Describe*: the action on "*" (no resource-level permissions);
//   - CreateTags / DeleteTags: the action on each resource, with its tags
//     (ec2:ResourceTag/*, aws:ResourceTag/*) and the request's (aws:RequestTag/*, aws:TagKeys);
//   - CreateLaunchTemplate: the action on launch-template/* with the launch template's request
//     tags, plus ec2:CreateTags with ec2:CreateAction=CreateLaunchTemplate when it tags;
//   - DeleteLaunchTemplate / TerminateInstances: the action on each resource, with its tags;
//   - RunInstances / CreateFleet: the action on each resource created (fleet/* for CreateFleet,
//     instance/*, volume/*, network-interface/*, spot-instances-request/* for spot
//     RunInstances) with that resource type's request tags, and on each resource used (the
//     launch template, image, subnets and security groups) with its tags; CreateFleet also
//     needs ec2:RunInstances on all but the fleet; ec2:CreateTags with ec2:CreateAction for
//     each created type that is tagged; iam:PassRole of the instance profile's role with
//     iam:PassedToService set to the partition's EC2 service principal (ec2.amazonaws.com,
//     ec2.amazonaws.com.cn in China: Partition.EC2ServicePrincipal).
//
// A launch whose subnet is not given (the emulator picks one) is checked without a subnet.

import (
	"net/http"
	"net/url"
	"sort"
)

// authzRequest is one (action, resource, condition keys) an EC2 call needs allowed.
type authzRequest struct {
	action, resource string
	ctx              map[string][]string
}

// authorizeEC2 authorises an EC2 call of the caller that signed r: nil for the administrator
// or when every request of the call is allowed, else UnauthorizedOperation (HTTP 403) naming
// the first request denied.
func (e *Emulator) authorizeEC2(r *http.Request, action string, form url.Values) *apiError {
	sess, aerr := e.requestSession(r)
	if aerr != nil || sess == nil {
		return aerr
	}
	e.mu.Lock()
	reqs := e.ec2AuthzRequests(action, form)
	e.mu.Unlock()
	for _, q := range reqs {
		if aerr := e.authorizeSession(sess, "UnauthorizedOperation", q.action, q.resource, q.ctx); aerr != nil {
			aerr.Message = "You are not authorized to perform this operation. " + aerr.Message
			return aerr
		}
	}
	return nil
}

// ec2ARN returns the ARN of an EC2 resource of type typ ("instance", "subnet", ...) and id
// (or "*"); images are owned by no account in their ARN. Caller holds e.mu.
func (e *Emulator) ec2ARN(typ, id string) string {
	acct := e.opts.AccountID
	if typ == "image" || typ == "snapshot" {
		acct = ""
	}
	return e.partition().ARN("ec2", e.opts.Region, acct, typ+"/"+id)
}

// resourceTagCtx returns the condition keys of an existing resource's tags, under both the
// ec2: and the global aws: prefix. Caller holds e.mu.
func (e *Emulator) resourceTagCtx(id string) map[string][]string {
	ctx := map[string][]string{}
	for k, v := range e.state.ec2.tags[id] {
		ctx["ec2:ResourceTag/"+k] = []string{v}
		ctx["aws:ResourceTag/"+k] = []string{v}
	}
	return ctx
}

// requestTagCtx returns aws:RequestTag/<key> for each tag and aws:TagKeys.
func requestTagCtx(tags map[string]string) map[string][]string {
	ctx := map[string][]string{}
	if len(tags) == 0 {
		return ctx
	}
	keys := make([]string, 0, len(tags))
	for k, v := range tags {
		ctx["aws:RequestTag/"+k] = []string{v}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ctx["aws:TagKeys"] = keys
	return ctx
}

// merged returns the union of condition key maps (later maps win).
func merged(maps ...map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// existing returns the request of action on the existing resource id (of its own type).
// Caller holds e.mu.
func (e *Emulator) existing(action, id string, extra map[string][]string) authzRequest {
	typ := resourceType(id)
	if typ == "" {
		typ = "*"
	}
	return authzRequest{action: action, resource: e.ec2ARN(typ, id), ctx: merged(e.resourceTagCtx(id), extra)}
}

// ec2AuthzRequests lists what an EC2 call needs allowed (see the file comment). Malformed
// parameters yield the requests that can be named; the handler then reports the error.
// Caller holds e.mu.
func (e *Emulator) ec2AuthzRequests(action string, form url.Values) []authzRequest {
	act := "ec2:" + action
	switch action {
	case "CreateTags", "DeleteTags":
		tags := map[string]string{}
		for _, t := range formObjects(form, "Tag") {
			tags[t.Get("Key")] = t.Get("Value")
		}
		var out []authzRequest
		for _, id := range formList(form, "ResourceId") {
			out = append(out, e.existing(act, id, requestTagCtx(tags)))
		}
		return out
	case "CreateLaunchTemplate":
		specs, _ := parseTagSpecs(form, "TagSpecification", "launch-template")
		tags := tagsFor(specs, "launch-template")
		out := []authzRequest{{act, e.ec2ARN("launch-template", "*"), requestTagCtx(tags)}}
		if len(tags) > 0 {
			out = append(out, authzRequest{"ec2:CreateTags", e.ec2ARN("launch-template", "*"),
				merged(requestTagCtx(tags), map[string][]string{"ec2:CreateAction": {action}})})
		}
		return out
	case "DeleteLaunchTemplate":
		if lt, err := e.state.ec2.findLaunchTemplate(form.Get("LaunchTemplateId"), form.Get("LaunchTemplateName")); err == nil {
			return []authzRequest{e.existing(act, lt.id, nil)}
		}
		return []authzRequest{{act, e.ec2ARN("launch-template", "*"), nil}}
	case "TerminateInstances":
		var out []authzRequest
		for _, id := range formList(form, "InstanceId") {
			out = append(out, e.existing(act, id, nil))
		}
		return out
	case "RunInstances", "CreateFleet":
		return e.launchAuthzRequests(action, form)
	}
	return []authzRequest{{act, "*", nil}}
}

// launchUse is what one launch uses: launch templates, images, subnets and security groups
// (by ID) and the instance profile (name or ARN).
type launchUse struct {
	templates, images, subnets, groups []string
	profile                            string
}

// addData records the image, security groups and profile of launch data d. Caller holds e.mu.
func (u *launchUse) addData(s *ec2Store, d launchTemplateData) {
	if d.ImageID != "" {
		u.images = append(u.images, d.ImageID)
	}
	u.groups = append(u.groups, d.SecurityGroupIDs...)
	for _, name := range d.SecurityGroupNames {
		for id, g := range s.securityGroups {
			if g.name == name {
				u.groups = append(u.groups, id)
			}
		}
	}
	if p := or(d.ProfileArn, d.ProfileName); p != "" {
		u.profile = p
	}
}

// launchAuthzRequests lists what RunInstances or CreateFleet needs allowed. Caller holds e.mu.
func (e *Emulator) launchAuthzRequests(action string, form url.Values) []authzRequest {
	s := &e.state.ec2
	var use launchUse
	created := []string{"instance", "volume", "network-interface"}
	specs, _ := parseTagSpecs(form, "TagSpecification", "instance", "volume", "fleet", "network-interface", "spot-instances-request")
	if action == "CreateFleet" {
		created = append([]string{"fleet"}, created...)
		for _, cfg := range formObjects(form, "LaunchTemplateConfigs") {
			lts := formSub(cfg, "LaunchTemplateSpecification")
			lt, err := s.findLaunchTemplate(lts.Get("LaunchTemplateId"), lts.Get("LaunchTemplateName"))
			if err != nil {
				continue
			}
			use.templates = append(use.templates, lt.id)
			use.addData(s, lt.data)
			for _, o := range formObjects(cfg, "Overrides") {
				if id := o.Get("SubnetId"); id != "" {
					use.subnets = append(use.subnets, id)
				}
				if id := o.Get("ImageId"); id != "" {
					use.images = append(use.images, id)
				}
			}
		}
	} else {
		own, _ := parseLaunchData(form, "")
		data := own
		if lt, err := s.findLaunchTemplate(form.Get("LaunchTemplate.LaunchTemplateId"), form.Get("LaunchTemplate.LaunchTemplateName")); err == nil {
			use.templates = append(use.templates, lt.id)
			data = mergeLaunchData(lt.data, own)
		}
		use.addData(s, data)
		if id := form.Get("SubnetId"); id != "" {
			use.subnets = append(use.subnets, id)
		}
		if data.SpotMarket {
			created = append(created, "spot-instances-request")
		}
	}
	actions := []string{"ec2:" + action}
	if action == "CreateFleet" {
		actions = append(actions, "ec2:RunInstances")
	}
	var out []authzRequest
	seen := map[string]bool{}
	add := func(q authzRequest) {
		key := q.action + " " + q.resource
		if !seen[key] {
			seen[key] = true
			out = append(out, q)
		}
	}
	for _, typ := range created {
		tags := tagsFor(specs, typ)
		for _, a := range actions {
			if a != "ec2:RunInstances" || typ != "fleet" {
				add(authzRequest{a, e.ec2ARN(typ, "*"), requestTagCtx(tags)})
			}
		}
		if len(tags) > 0 {
			add(authzRequest{"ec2:CreateTags", e.ec2ARN(typ, "*"), merged(requestTagCtx(tags), map[string][]string{"ec2:CreateAction": {action}})})
		}
	}
	for _, ids := range [][]string{use.templates, use.images, use.subnets, use.groups} {
		for _, id := range ids {
			for _, a := range actions {
				add(e.existing(a, id, nil))
			}
		}
	}
	if use.profile != "" {
		if p := e.state.iam.profileByNameOrArn(use.profile); p != nil && len(p.roles) > 0 {
			if role := e.state.iam.roles[p.roles[0]]; role != nil {
				add(authzRequest{"iam:PassRole", role.arn, map[string][]string{"iam:PassedToService": {e.partition().EC2ServicePrincipal()}}})
			}
		}
	}
	return out
}
