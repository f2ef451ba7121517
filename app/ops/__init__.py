"""Operations: health, readiness, metrics, and the middleware that observes and protects every request."""
