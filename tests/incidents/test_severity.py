"""Severity policies: the seeds' tables as presets, and signals mapped to a level."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rollgate.spec.loader import load_spec
from rollgate.spec.severity import PRESETS, SeverityPolicy, preset
from rollgate.testing import Sandbox


def test_every_preset_validates_with_its_levels_most_severe_first() -> None:
    for name in PRESETS:
        policy = preset(name)
        times = [lvl.respond_within for lvl in policy.levels]
        assert times == sorted(times), name  # the worse, the sooner


def test_seed_000_maps_outage_errors_and_modules_to_its_levels() -> None:
    policy = preset("sev0-3")
    assert [lvl.name for lvl in policy.levels] == ["SEV0", "SEV1", "SEV2", "SEV3"]
    assert policy.classify({"security": True}).name == "SEV0"
    assert policy.classify({"error_rate": 0.12}).name == "SEV1"  # "error rate > 10%"
    assert policy.classify({"error_rate": 0.12, "security": True}).name == "SEV0"
    assert policy.classify({"component_down": True}).name == "SEV2"
    assert policy.classify({"error_rate": 0.02}).name == "SEV3"  # nothing matches: least
    assert policy.levels[1].update_every == 15 * 60  # SEV1 updates every 15 minutes


def test_seed_002_decision_tree_sev1_means_immediate_rollback() -> None:
    policy = preset("mantisnxt")
    sev1 = policy.classify({"data_loss": True})
    assert (sev1.name, sev1.respond_within, sev1.action) == ("SEV1", 0.0, "rollback")
    sev2 = policy.classify({"error_rate": 0.06})
    assert (sev2.name, sev2.respond_within, sev2.action) == ("SEV2", 3600.0,
                                                            "consider-rollback")
    assert policy.classify({"error_rate": 0.03}).name == "SEV3"  # 1-5%
    assert policy.classify({"latency_factor": 2.5}).name == "SEV2"  # > 2x normal


def test_seed_003_and_004_response_times() -> None:
    assert [lvl.respond_within for lvl in preset("p0-3").levels] == [900, 3600, 14400, 86400]
    assert [lvl.respond_within for lvl in preset("payments").levels] == [0, 900, 3600, 86400]
    assert preset("payments").classify({"component_down": True}).title == \
        "Critical (payments down)"


def test_a_rule_naming_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        SeverityPolicy.model_validate({
            "levels": [{"name": "SEV1", "title": "x", "respond_within": "15m"}],
            "rules": [{"when": {"error_rate": 0.1}, "level": "SEV9"}]})
    assert "rules[0].level: unknown level 'SEV9'; the levels are SEV1" in str(caught.value)
    with pytest.raises(ValueError, match="unknown severity preset 'sev9'"):
        preset("sev9")


def test_the_spec_takes_a_preset_or_a_policy_and_names_the_line_of_a_wrong_one(
        sandbox: Sandbox) -> None:
    base = ("project: shop\nservices:\n  web: {command: 'true', port: 8080}\n"
            "environments:\n  production: {}\n")
    sandbox.spec_path.write_text(base + "incidents:\n  severity: p0-3\n")
    assert sandbox.run("validate").returncode == 0
    spec = load_spec(sandbox.spec_path)
    assert spec.incidents.severity_policy().levels[0].name == "P0"
    sandbox.spec_path.write_text(base + "incidents:\n  severity: sev9\n")
    wrong = sandbox.run("validate")
    assert wrong.returncode == 2
    assert "rollgate.yaml:7: incidents.severity: unknown preset 'sev9'" in wrong.stderr
