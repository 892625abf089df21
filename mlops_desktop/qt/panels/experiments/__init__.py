"""The Experiments panel: turn a dataset version into an experiment spec the queue can run."""
