"""References the Swift engine is checked against (parity fixtures, served parity), the local
server that runs it, and the forward-latency benchmarks."""
