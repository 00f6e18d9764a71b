"""Outbound HTTP to URLs that a user or an invitation code supplied (SSRF guard, peer client)."""
