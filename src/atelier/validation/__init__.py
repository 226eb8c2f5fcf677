"""Validation: expectation rules from YAML, the quarantine, Great Expectations reports, the gate."""
