"""Collection: source adapters, bronze ingestion and the outcomes table."""
