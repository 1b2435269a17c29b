"""The README starts with the two commands, and CI runs the second one verbatim."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    block = ROOT.joinpath("README.md").read_text().split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_starts_with_run_and_test_commands():
    run, test = _readme_commands()
    assert run.endswith("pip install -e . && kedro run")
    assert test.endswith('pip install -e ".[dev]" && pytest')


def test_ci_runs_the_readme_test_command():
    _, test = _readme_commands()
    assert test in ROOT.joinpath(".ci/run").read_text().splitlines()


def test_telemetry_is_off():
    assert "consent: false" in ROOT.joinpath(".telemetry").read_text()
