"""The Data panel: import, browse, profile, clean and compare dataset versions."""
