"""FHIR R5 views (application/fhir+json) of published content."""
