"""The Training queue panel: jobs, their progress and logs, and the workers that run them."""
