"""Spark: the session builder (Delta + persistent catalog) and Delta table I/O."""
