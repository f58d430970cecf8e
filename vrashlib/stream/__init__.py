"""Fig. 5: the pseudo-live filtered stream (notebook 06)."""
