"""The notifier's pure logic: the board's rows, notices, escalation ladders, who is told, what
is sent and how it reads. No I/O here: the service reads and writes around it."""
