"""The project's config loader: Kedro's ``OmegaConfigLoader`` with one rule added to the soft merge.

Parameters are soft-merged across environments (``conf/base`` then ``conf/local`` or ``--env``):
an environment file that overrides one nested key keeps that key's siblings from base. An empty
mapping cannot delete a key in such a merge, so an environment that swaps a model for another
architecture would keep base's architecture-specific ``options`` (e.g. the MLP's ``hidden``) and
fail to build. Hence the rule:

    A mapping that contains the key ``architecture`` in an environment's parameter file (a model
    description: ``architecture``, ``num_classes``, ``weights_path``, ``options``) replaces base's
    mapping at the same place whole; everything else is soft-merged as before.

Only the environment's *files* decide where the rule applies: ``kedro run --params`` runtime
overrides are deep-merged on top as Kedro always does (so ``--params
"zoo.mlp.model.options.hidden=[64]"`` changes one key, and ``--params
"zoo.mlp.model.architecture=..."`` alone does not drop the model's other keys).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from omegaconf import DictConfig, OmegaConf

REPLACE_MARKER_KEY = "architecture"

KeyPath = tuple[str, ...]


def replaced_paths(config: Any, marker: str = REPLACE_MARKER_KEY, prefix: KeyPath = ()) -> list[KeyPath]:
    """Key paths of the outermost mappings in ``config`` that contain ``marker`` (not descended into)."""
    if not isinstance(config, dict):
        return []
    if marker in config and prefix:
        return [prefix]
    paths: list[KeyPath] = []
    for key, value in config.items():
        paths.extend(replaced_paths(value, marker, (*prefix, str(key))))
    return paths


def soft_merge_replacing(base: dict[str, Any], env: dict[str, Any], paths: list[KeyPath]) -> dict[str, Any]:
    """Soft-merge ``env`` over ``base`` (OmegaConf's deep merge), except that at each of ``paths``
    the result is ``env``'s value alone."""
    merged = OmegaConf.to_container(OmegaConf.unsafe_merge(base, env))
    for path in paths:
        src: Any = env
        dst: Any = merged
        for key in path[:-1]:
            src, dst = src[key], dst[key]
        dst[path[-1]] = OmegaConf.to_container(OmegaConf.create(src[path[-1]]))  # a copy
    return merged  # type: ignore[return-value]


class InterpbenchConfigLoader(OmegaConfigLoader):
    """``OmegaConfigLoader`` whose soft merge replaces model mappings whole (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._replace_paths: list[KeyPath] = []

    def _resolve_from_raw_config(  # noqa: PLR0913
        self,
        key: str,
        base_configs: dict[Path, DictConfig],
        env_configs: dict[Path, DictConfig],
        base_path: str,
        env_path: str,
        processed_files: set[Path],
    ) -> dict[str, Any]:
        # The environment's files, before runtime params are merged into them, decide the paths.
        paths: list[KeyPath] = []
        if key == "parameters":
            for file_config in env_configs.values():
                paths.extend(replaced_paths(OmegaConf.to_container(file_config, resolve=False)))
        self._replace_paths = paths
        try:
            return super()._resolve_from_raw_config(key, base_configs, env_configs, base_path, env_path,
                                                    processed_files)
        finally:
            self._replace_paths = []

    def _soft_merge(self, config: dict[str, Any], env_config: dict[str, Any],  # type: ignore[override]
                    env_path: str | None = None) -> Any:
        # Kedro calls this through getattr(self, "_soft_merge"), so an instance method is picked up.
        paths = [p for p in self._replace_paths if _has(env_config, p)]
        return soft_merge_replacing(config, env_config, paths)


def _has(config: Any, path: KeyPath) -> bool:
    for key in path:
        if not isinstance(config, dict) or key not in config:
            return False
        config = config[key]
    return True
