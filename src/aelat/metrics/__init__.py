"""Metrics on representations: class structure, neighbourhoods, the distribution of Q = g#P."""
