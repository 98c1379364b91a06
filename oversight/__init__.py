"""Oversight (see docs/architecture.md)."""
