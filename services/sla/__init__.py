"""SLA service: a clock per ticket and target, breaches emitted at their exact deadline."""
