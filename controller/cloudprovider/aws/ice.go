package aws

import (
	"time"

	"k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/utils/clock"
)

// UnavailableOfferingsTTL is how long a pool (instance type, zone, capacity type) stays
// unavailable after EC2 reported it had no capacity (Karpenter uses 3 minutes).
const UnavailableOfferingsTTL = 3 * time.Minute

// insufficientCapacityCodes are the CreateFleet error codes that mean "this pool cannot be
// launched now" rather than a request error; the pool is remembered as unavailable.
var insufficientCapacityCodes = map[string]bool{
	"InsufficientInstanceCapacity":      true,
	"MaxSpotInstanceCountExceeded":      true,
	"VcpuLimitExceeded":                 true,
	"UnfulfillableCapacity":             true,
	"Unsupported":                       true,
	"InsufficientFreeAddressesInSubnet": true,
}

// unavailableOfferings is a TTL cache of pools known to have no capacity, on an injected clock.
type unavailableOfferings struct {
	cache *cache.Expiring
}

func newUnavailableOfferings(clk clock.Clock) *unavailableOfferings {
	return &unavailableOfferings{cache: cache.NewExpiringWithClock(clk)}
}

func poolKey(instanceType, zone, capacityType string) string {
	return instanceType + "/" + zone + "/" + capacityType
}

// MarkUnavailable remembers the pool as unavailable for UnavailableOfferingsTTL.
func (u *unavailableOfferings) MarkUnavailable(instanceType, zone, capacityType string) {
	u.cache.Set(poolKey(instanceType, zone, capacityType), struct{}{}, UnavailableOfferingsTTL)
}

// IsUnavailable reports whether the pool was marked unavailable less than the TTL ago.
func (u *unavailableOfferings) IsUnavailable(instanceType, zone, capacityType string) bool {
	_, ok := u.cache.Get(poolKey(instanceType, zone, capacityType))
	return ok
}
