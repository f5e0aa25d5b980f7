"""The gateway's rules: stream positions, resume or reset, leases, credentials, restarts."""
