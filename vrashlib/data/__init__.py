"""Section 2: inputs -> normalised, accounted, split, cached dataset (notebook 01)."""
