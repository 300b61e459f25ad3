"""Which images a run evaluates, and how benchmark folders are made."""
