"""Kedro project settings."""

from kedro.config import OmegaConfigLoader

from interpbench.hooks import NodeTimingHooks

HOOKS = (NodeTimingHooks(),)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Soft merge: a conf/local or --env parameters file that overrides one nested key keeps its
    # siblings from conf/base instead of replacing the whole top-level mapping.
    "merge_strategy": {"parameters": "soft"},
}
