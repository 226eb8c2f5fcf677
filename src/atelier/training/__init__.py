"""Training: the time-split training set, loaders, one training loop and its backends, experiments."""
