"""Kedro project settings."""

import warnings

from interpbench.config_loader import InterpbenchConfigLoader
from interpbench.hooks import NodeTimingHooks, ParallelHooks, ParamsCheckHooks, RunRecordHooks
from interpbench.input_checks import MissingInputsHooks

HOOKS = (ParallelHooks(), ParamsCheckHooks(), MissingInputsHooks(), NodeTimingHooks(), RunRecordHooks())

# Studies read each other's outputs by their namespaced names (e.g. ``zoo.mnist_cnn.state``) on
# purpose; Kedro warns about every such dotted name.
warnings.filterwarnings("ignore", message="One or more dataset names contain '.'")

CONFIG_LOADER_CLASS = InterpbenchConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Soft merge: a conf/local or --env parameters file that overrides one nested key keeps its
    # siblings from conf/base instead of replacing the whole top-level mapping. Exception: a mapping
    # with an ``architecture`` key (a model) in the environment's file replaces base's whole
    # (interpbench.config_loader), so switching architectures drops the old model's options.
    "merge_strategy": {"parameters": "soft"},
}
