"""Section 4, Table 1: features, ratings, classifiers and heuristics (notebook 04)."""
