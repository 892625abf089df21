"""The Models panel and its dialogs."""
