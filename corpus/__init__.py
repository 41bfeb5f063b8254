"""Read, normalise, split, chunk and store news articles."""
