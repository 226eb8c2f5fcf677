"""MLflow: the training record, charts, profiles, the registry and the model exports."""
