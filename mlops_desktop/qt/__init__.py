"""Everything PySide6: the main window, panels, item models, widgets and task workers."""
