"""The promotion gate rule: accuracy margin AND latency tolerance; absolute minimum for a first version."""

from __future__ import annotations

import pytest

from functions.core.gate.regression import SideMetrics
from functions.core.gate.rule import GateConfig, GateOutcome, decide

CONFIG = GateConfig(
    min_accuracy_gain=0.02, latency_tolerance=0.10, latency_slack_ms=0.0, first_version_min_accuracy=0.7
)


def side(version: int, accuracy: float, p95_ms: float) -> SideMetrics:
    return SideMetrics(
        skill="make",
        skill_version=version,
        code_version="abc",
        cases=100,
        correct=round(accuracy * 100),
        accuracy=accuracy,
        top_k_accuracy=accuracy,
        per_class={},
        confusion={},
        latency_ms={"p50": p95_ms / 2, "p95": p95_ms, "mean": p95_ms / 2},
        skill_latency_ms={"p50": 1.0, "p95": 2.0, "mean": 1.0},
        model_mb=3.0,
        load_seconds=0.1,
        peak_rss_mb=500.0,
    )


@pytest.mark.parametrize(
    ("accuracy", "p95_ms", "expected"),
    [
        (0.85, 100.0, GateOutcome.PROMOTE),  # better by 5 points, same speed
        (0.85, 90.0, GateOutcome.PROMOTE),  # better and faster
        (0.85, 110.0, GateOutcome.PROMOTE),  # better, exactly at the 10 % tolerance
        (0.85, 111.0, GateOutcome.INVESTIGATE),  # better but slower than the tolerance
        (0.82, 100.0, GateOutcome.PROMOTE),  # better by exactly the margin
        (0.81, 100.0, GateOutcome.INVESTIGATE),  # better, but by less than the margin
        (0.80, 100.0, GateOutcome.INVESTIGATE),  # equal accuracy
        (0.80, 50.0, GateOutcome.INVESTIGATE),  # equal accuracy, twice as fast: a person decides
        (0.70, 80.0, GateOutcome.INVESTIGATE),  # worse and faster
        (0.70, 150.0, GateOutcome.INVESTIGATE),  # worse and slower
    ],
)
def test_candidate_against_current(accuracy: float, p95_ms: float, expected: GateOutcome) -> None:
    # GIVEN a current version at 80 % accuracy and 100 ms p95
    current = side(1, 0.80, 100.0)
    # WHEN a candidate is judged
    decision = decide(side(2, accuracy, p95_ms), current, CONFIG)
    # THEN the rule gives the expected outcome, with the numbers
    assert decision.outcome is expected
    assert decision.current_version == 1 and decision.candidate_version == 2
    assert decision.latency_limit_ms == pytest.approx(110.0)
    assert decision.accuracy_delta == pytest.approx(accuracy - 0.80)


def test_reasons_name_the_failing_criterion() -> None:
    # GIVEN a candidate better in accuracy but too slow
    decision = decide(side(2, 0.9, 200.0), side(1, 0.8, 100.0), CONFIG)
    # THEN the reasons say accuracy ok and latency too slow
    assert decision.reasons[0].endswith("ok")
    assert decision.reasons[1].endswith("too slow")


@pytest.mark.parametrize(
    ("accuracy", "expected"), [(0.7, GateOutcome.PROMOTE), (0.69, GateOutcome.INVESTIGATE)]
)
def test_first_version_is_gated_on_the_absolute_minimum(accuracy: float, expected: GateOutcome) -> None:
    # GIVEN nothing deployed
    # WHEN the first version is judged
    decision = decide(side(1, accuracy, 500.0), None, CONFIG)
    # THEN only the absolute minimum accuracy counts (latency has nothing to compare with)
    assert decision.outcome is expected
    assert decision.current_version is None
    assert "first version" in decision.reasons[0]


def test_latency_slack_absorbs_timer_noise_on_tiny_latencies() -> None:
    # GIVEN a 1 ms current and a 2 ms slack
    config = CONFIG.model_copy(update={"latency_slack_ms": 2.0})
    # WHEN the candidate is 2.5 ms
    decision = decide(side(2, 0.9, 2.5), side(1, 0.8, 1.0), config)
    # THEN it is within 1.0 × 1.1 + 2 ms
    assert decision.outcome is GateOutcome.PROMOTE


def test_bad_gate_config_names_the_field() -> None:
    with pytest.raises(ValueError, match="min_accuracy_gain"):
        GateConfig(min_accuracy_gain=-0.1)
