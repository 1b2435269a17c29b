"""Each study's protocol as plain functions over models and tensors (no Kedro here)."""
