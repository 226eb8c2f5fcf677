"""Scheduled batch scoring: arms (champion, challenger, shadow), predictions and the prediction log."""
