package guest

// DropConnection closes c's network connection under it, as a lost link
// would: for the resume tests in package guest_test.
func DropConnection(c *Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.client.Close()
}
