"""Metrics of each protocol, one module per family, and the results-contract table."""
