"""Follow-up (see docs/architecture.md)."""
