"""The indexes built from a loaded library: ranked search, citations, and the snapshot that holds them together."""
