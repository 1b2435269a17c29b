"""Figures and Markdown reports built from tensors and results tables (no Kedro here)."""
