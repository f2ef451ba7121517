"""schema.org JSON-LD views of published documents."""
