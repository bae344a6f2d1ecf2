"""Small helpers every layer may use: text folding and atomic file writes."""
