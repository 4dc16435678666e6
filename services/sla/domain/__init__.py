"""The SLA service's pure logic: business-time clocks, policies, how each input and the timer
move a ticket's clocks, the events that announce it, and the compliance figures. No I/O."""
