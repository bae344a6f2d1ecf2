"""The terminal surface: the ``factdeck`` command, the offline console and plain-text rendering."""
