"""Reusable widgets: notifications, the background-task area, the welcome page."""
