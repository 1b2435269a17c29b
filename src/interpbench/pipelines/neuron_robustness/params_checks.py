"""Check of the ``neuron_robustness`` parameters before the run (the parser every node uses)."""

from __future__ import annotations

from interpbench.param_checks import register_params_check
from interpbench.pipelines.neuron_robustness.pipeline import STUDY
from interpbench.protocols.neuron_robustness import neuron_params

register_params_check(STUDY, neuron_params)
