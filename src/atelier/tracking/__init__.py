"""MLflow: the training record, charts, the pyfunc model and the registry."""
