"""interpbench: benchmarks of interpretability methods for image classifiers.

The library parts (``data``, ``models``, ``explain``, ``metrics``, ``attacks``) know nothing of
Kedro; ``pipelines`` holds the thin Kedro nodes that call them.
"""

__version__ = "0.1.0"
