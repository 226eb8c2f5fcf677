"""Training: the time-split training set, the model zoo, loaders, one training loop and its backends."""
