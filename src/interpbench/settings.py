"""Kedro project settings."""

import warnings

from kedro.config import OmegaConfigLoader

from interpbench.hooks import NodeTimingHooks, ParamsCheckHooks, RunRecordHooks

HOOKS = (NodeTimingHooks(), ParamsCheckHooks(), RunRecordHooks())

# Studies read each other's outputs by their namespaced names (e.g. ``zoo.mnist_cnn.state``) on
# purpose; Kedro warns about every such dotted name.
warnings.filterwarnings("ignore", message="One or more dataset names contain '.'")

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Soft merge: a conf/local or --env parameters file that overrides one nested key keeps its
    # siblings from conf/base instead of replacing the whole top-level mapping.
    "merge_strategy": {"parameters": "soft"},
}
