"""interpbench: benchmarks of interpretability methods for image classifiers.

The library parts (``data``, ``models``, ``explain``, ``metrics``, ``attacks``) know nothing of
Kedro; ``pipelines`` holds the thin Kedro nodes that call them.
"""

import os as _os
import sys as _sys

# No network from a run: MLflow 3 has its own telemetry (it looks up config.mlflow-telemetry.io and
# posts usage records) unless MLFLOW_DISABLE_TELEMETRY (or DO_NOT_TRACK=true) is set when
# ``mlflow`` is imported. ``kedro run`` imports this package (for settings.py) before kedro-mlflow's
# CLI and hooks import mlflow, so setting it here is early enough (checked with an import hook);
# child processes inherit it, e.g. the ``mlflow ui`` that ``kedro mlflow ui`` starts. Kedro's own
# telemetry is off through ``.telemetry``.
_os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
if "mlflow.telemetry" in _sys.modules and _os.environ["MLFLOW_DISABLE_TELEMETRY"].lower() in ("true", "1"):
    # mlflow was imported first (e.g. in a notebook): let it drop its telemetry client
    try:
        _sys.modules["mlflow.telemetry"].set_telemetry_client()
    except Exception:  # pragma: no cover - private API of mlflow
        pass

__version__ = "0.1.0"
