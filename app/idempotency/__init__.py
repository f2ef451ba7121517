"""Idempotency keys for POST create, publish and import."""
