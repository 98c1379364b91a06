"""Safety (see docs/architecture.md)."""
