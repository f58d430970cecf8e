"""Fig. 6: mutual information between notes as a function of distance (notebook 05)."""
