from dataclasses import dataclass, field
from typing import Literal

import pytest

from interpbench.config import parse
from interpbench.errors import ConfigError


@dataclass
class Inner:
    lr: float = 0.1


@dataclass
class Outer:
    name: str
    mode: Literal["a", "b"] = "a"
    sizes: list[int] = field(default_factory=list)
    inner: Inner = field(default_factory=Inner)


def test_parse_builds_nested_dataclasses():
    p = parse(Outer, {"name": "x", "sizes": [1, 2], "inner": {"lr": 1}})
    assert p.inner.lr == 1.0 and isinstance(p.inner.lr, float) and p.sizes == [1, 2]


def test_misspelled_key_names_key_and_suggestion():
    with pytest.raises(ConfigError, match=r"study\.inner: unknown parameter 'lrr' \(did you mean 'lr'\?\)"):
        parse(Outer, {"name": "x", "inner": {"lrr": 1}}, "study")


def test_wrong_type_and_literal_name_the_key():
    with pytest.raises(ConfigError, match=r"p\.sizes\[1\]: expected an integer"):
        parse(Outer, {"name": "x", "sizes": [1, "two"]}, "p")
    with pytest.raises(ConfigError, match=r"p\.mode: expected one of \['a', 'b'\]"):
        parse(Outer, {"name": "x", "mode": "c"}, "p")


def test_missing_required_key():
    with pytest.raises(ConfigError, match="missing required parameter 'name'"):
        parse(Outer, {}, "p")
