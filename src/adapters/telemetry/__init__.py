"""Telemetry adapters: OpenTelemetry for production, an in-memory tally for tests and health."""
