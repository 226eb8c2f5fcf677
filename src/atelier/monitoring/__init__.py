"""Monitoring: predictions reconciled with outcomes (live metrics), drift, alerts, A/B read-outs, reports."""
