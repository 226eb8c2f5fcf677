"""Promotion: a registered version becomes the champion only through the gate (paired bootstrap on the same
held-out rows); every alias move and rollback is recorded in ml.registry_events."""
