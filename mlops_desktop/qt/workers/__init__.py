"""Running task functions off the event loop."""
