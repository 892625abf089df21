"""The Monitoring panel: drift of a version's inputs and predictions, service level, alerts."""
