package aws

// QueuedFleetRequests is how many launches wait for a CreateFleet call of their kind (tests
// synchronise on it).
func QueuedFleetRequests(c *CloudProvider) int {
	c.fleets.mu.Lock()
	defer c.fleets.mu.Unlock()
	n := 0
	for _, g := range c.fleets.groups {
		n += len(g.queue)
	}
	return n
}
