"""Check of the ``adversarial`` parameters before the run (the parser every node uses)."""

from __future__ import annotations

from interpbench.param_checks import register_params_check
from interpbench.protocols.adversarial_params import STUDY, adversarial_params

register_params_check(STUDY, adversarial_params)
