"""Contract suites: each stateful port, one suite, run against its fake and its real adapter."""
