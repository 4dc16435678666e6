"""The router's pure logic: categories, priority, tiers, assignment and queues; no I/O."""
