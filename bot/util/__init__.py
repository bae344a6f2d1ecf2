"""Small helpers every layer may use: text folding, atomic file writes and a bounded map of values kept."""
