package aws

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"k8s.io/utils/clock"
)

// DiscoveryCacheTTL is how long discovered subnets and security groups are reused.
const DiscoveryCacheTTL = time.Minute

// SelectorIDsKey in a subnet or security group selector lists ids (comma separated) instead of
// a tag filter.
const SelectorIDsKey = "aws-ids"

// selectorFilters turns a selector into EC2 filters: {key: "*"} -> tag-key=key,
// {key: value} -> tag:key=value, {"aws-ids": "a,b"} -> ids. field is the selector's field
// path, used in errors for empty keys, values or ids.
func selectorFilters(field string, selector map[string]string) (filters []ec2types.Filter, ids []string, err error) {
	if len(selector) == 0 {
		return nil, nil, fmt.Errorf("%s: must select at least one tag or id", field)
	}
	keys := make([]string, 0, len(selector))
	for k := range selector {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := selector[k]
		switch {
		case k == "":
			return nil, nil, fmt.Errorf("%s: keys must not be empty", field)
		case v == "":
			return nil, nil, fmt.Errorf("%s[%s]: value must not be empty", field, k)
		case k == SelectorIDsKey:
			for _, id := range strings.Split(v, ",") {
				if id = strings.TrimSpace(id); id == "" {
					return nil, nil, fmt.Errorf("%s[%s]: empty id in %q", field, k, v)
				}
				ids = append(ids, strings.TrimSpace(id))
			}
		case v == "*":
			filters = append(filters, ec2types.Filter{Name: awssdk.String("tag-key"), Values: []string{k}})
		default:
			filters = append(filters, ec2types.Filter{Name: awssdk.String("tag:" + k), Values: []string{v}})
		}
	}
	return filters, ids, nil
}

func selectorKey(selector map[string]string) string {
	keys := make([]string, 0, len(selector))
	for k, v := range selector {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return strings.Join(keys, "\x00")
}

type cached[T any] struct {
	at  time.Time
	val T
}

// discovery finds subnets and security groups by selector, caching each result for
// DiscoveryCacheTTL.
type discovery struct {
	ec2 EC2API
	clk clock.Clock

	mu      sync.Mutex
	subnets map[string]cached[[]ec2types.Subnet]
	groups  map[string]cached[[]ec2types.SecurityGroup]
}

func newDiscovery(api EC2API, clk clock.Clock) *discovery {
	return &discovery{ec2: api, clk: clk,
		subnets: map[string]cached[[]ec2types.Subnet]{}, groups: map[string]cached[[]ec2types.SecurityGroup]{}}
}

// Subnets returns the available subnets matching the selector, sorted by id. It returns an
// error naming field when the selector is invalid or matches nothing.
func (d *discovery) Subnets(ctx context.Context, field string, selector map[string]string) ([]ec2types.Subnet, error) {
	filters, ids, err := selectorFilters(field, selector)
	if err != nil {
		return nil, err
	}
	key := selectorKey(selector)
	d.mu.Lock()
	if c, ok := d.subnets[key]; ok && d.clk.Since(c.at) < DiscoveryCacheTTL {
		d.mu.Unlock()
		return c.val, nil
	}
	d.mu.Unlock()
	var out []ec2types.Subnet
	pager := ec2.NewDescribeSubnetsPaginator(d.ec2, &ec2.DescribeSubnetsInput{Filters: filters, SubnetIds: ids})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("discovering subnets for %s: %w", field, err)
		}
		for _, s := range page.Subnets {
			if s.State == "" || s.State == ec2types.SubnetStateAvailable {
				out = append(out, s)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no available subnet matches %v", field, selector)
	}
	sort.Slice(out, func(i, j int) bool { return awssdk.ToString(out[i].SubnetId) < awssdk.ToString(out[j].SubnetId) })
	d.mu.Lock()
	d.subnets[key] = cached[[]ec2types.Subnet]{at: d.clk.Now(), val: out}
	d.mu.Unlock()
	return out, nil
}

// SecurityGroups returns the ids of the security groups matching the selector, sorted. It
// returns an error naming field when the selector is invalid or matches nothing.
func (d *discovery) SecurityGroups(ctx context.Context, field string, selector map[string]string) ([]string, error) {
	filters, ids, err := selectorFilters(field, selector)
	if err != nil {
		return nil, err
	}
	key := selectorKey(selector)
	d.mu.Lock()
	if c, ok := d.groups[key]; ok && d.clk.Since(c.at) < DiscoveryCacheTTL {
		d.mu.Unlock()
		return groupIDs(c.val), nil
	}
	d.mu.Unlock()
	var out []ec2types.SecurityGroup
	pager := ec2.NewDescribeSecurityGroupsPaginator(d.ec2, &ec2.DescribeSecurityGroupsInput{Filters: filters, GroupIds: ids})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("discovering security groups for %s: %w", field, err)
		}
		out = append(out, page.SecurityGroups...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no security group matches %v", field, selector)
	}
	d.mu.Lock()
	d.groups[key] = cached[[]ec2types.SecurityGroup]{at: d.clk.Now(), val: out}
	d.mu.Unlock()
	return groupIDs(out), nil
}

func groupIDs(groups []ec2types.SecurityGroup) []string {
	ids := make([]string, 0, len(groups))
	for _, g := range groups {
		ids = append(ids, awssdk.ToString(g.GroupId))
	}
	sort.Strings(ids)
	return ids
}
