"""The promotion gate rule: a significant accuracy gain on a big enough harness, no slower on the
classifier's own stage nor on the whole stack; an absolute minimum for a first version."""

from __future__ import annotations

import pytest

from functions.core.gate.regression import ClassMetrics, SideMetrics
from functions.core.gate.rule import GateConfig, GateOutcome, decide
from functions.core.gate.significance import bootstrap_interval, mcnemar_one_sided

CONFIG = GateConfig(
    min_accuracy_gain=0.02,
    latency_tolerance=0.10,
    latency_slack_ms=0.0,
    skill_latency_tolerance=0.10,
    skill_latency_slack_ms=0.0,
    first_version_min_accuracy=0.7,
    min_cases_per_class=20,
    significance=0.05,
)


def side(
    version: int, right: list[bool], p95_ms: float = 100.0, skill_p95_ms: float = 10.0, classes: int = 2
) -> SideMetrics:
    """A side of the regression over `right` (one entry per case, cases spread evenly over classes)."""
    per_class: dict[str, ClassMetrics] = {}
    for c in range(classes):
        mine = right[c::classes]
        per_class[f"class-{c}"] = ClassMetrics(
            cases=len(mine), correct=sum(mine), accuracy=sum(mine) / len(mine) if mine else 0.0
        )
    return SideMetrics(
        skill="make",
        skill_version=version,
        code_version="abc",
        cases=len(right),
        correct=sum(right),
        accuracy=round(sum(right) / len(right), 4),
        top_k_accuracy=1.0,
        per_class=per_class,
        confusion={},
        latency_ms={"p50": p95_ms / 2, "p95": p95_ms, "mean": p95_ms / 2},
        skill_latency_ms={"p50": skill_p95_ms / 2, "p95": skill_p95_ms, "mean": skill_p95_ms / 2},
        model_mb=3.0,
        load_seconds=0.1,
        peak_rss_mb=500.0,
    )


def paired(cases: int, both: int, candidate_only: int, current_only: int) -> tuple[list[bool], list[bool]]:
    """Candidate and current answers on the same cases (the rest: both wrong)."""
    neither = cases - both - candidate_only - current_only
    cand = [True] * both + [True] * candidate_only + [False] * current_only + [False] * neither
    curr = [True] * both + [False] * candidate_only + [True] * current_only + [False] * neither
    return cand, curr


def judge(
    cand: list[bool], curr: list[bool], config: GateConfig = CONFIG, **latency: float
) -> tuple[GateOutcome, list[str]]:
    decision = decide(
        side(2, cand, latency.get("p95", 100.0), latency.get("skill_p95", 10.0)),
        side(1, curr),
        config,
        list(zip(cand, curr, strict=True)),
    )
    return decision.outcome, decision.reasons


def test_a_one_in_six_difference_is_not_promoted() -> None:
    # GIVEN 6 harness cases where the candidate gets one more right (6/6 vs 5/6), harness size not at issue
    cand, curr = paired(6, both=5, candidate_only=1, current_only=0)
    config = CONFIG.model_copy(update={"min_cases_per_class": 1})
    # WHEN judged
    outcome, reasons = judge(cand, curr, config)
    # THEN the 17-point gain is not significant (McNemar p = 0.5): investigate, with the interval
    assert outcome is GateOutcome.INVESTIGATE
    assert "not significant" in reasons[1] and "interval" in reasons[1] and "p = 0.5" in reasons[1]


def test_a_harness_with_too_few_cases_per_class_is_not_decided_on() -> None:
    # GIVEN a clear gain but only 6 cases (3 per class) against a minimum of 20 per class
    cand, curr = paired(6, both=0, candidate_only=6, current_only=0)
    # WHEN judged
    outcome, reasons = judge(cand, curr)
    # THEN investigate, naming the classes that are too thin
    assert outcome is GateOutcome.INVESTIGATE
    assert any("harness too small" in r and "class-0 3" in r for r in reasons)


def test_a_significant_gain_is_promoted() -> None:
    # GIVEN 200 cases: 22 only the candidate gets right, 2 only the current
    cand, curr = paired(200, both=150, candidate_only=22, current_only=2)
    # WHEN judged at equal latency
    outcome, reasons = judge(cand, curr)
    # THEN the gain (+10 points) is significant and the candidate is promoted
    assert outcome is GateOutcome.PROMOTE
    assert "significant" in reasons[1] and "not significant" not in reasons[1]


def test_a_gain_below_the_margin_is_not_promoted_even_if_significant() -> None:
    # GIVEN 2,000 cases and a 1-point gain, all discordant cases in the candidate's favour
    cand, curr = paired(2000, both=1600, candidate_only=20, current_only=0)
    # WHEN judged with a 2-point margin
    outcome, reasons = judge(cand, curr)
    # THEN investigate: not enough gain
    assert outcome is GateOutcome.INVESTIGATE
    assert reasons[0].endswith("not enough")


def test_a_classifier_30_percent_slower_on_its_own_stage_is_refused_even_if_the_stack_is_within() -> None:
    # GIVEN a significant gain, a classifier stage 30% slower (13 ms vs 10 ms) and the whole stack only
    # 3% slower (103 ms vs 100 ms: the detector's shared time hides the slow-down)
    cand, curr = paired(200, both=150, candidate_only=22, current_only=2)
    # WHEN judged
    outcome, reasons = judge(cand, curr, p95=103.0, skill_p95=13.0)
    # THEN refused on the stage that changed
    assert outcome is GateOutcome.INVESTIGATE
    assert reasons[2].startswith("classifier stage") and reasons[2].endswith("too slow")
    assert reasons[3].startswith("whole stack") and reasons[3].endswith("ok")


def test_a_candidate_too_slow_on_the_whole_stack_is_refused() -> None:
    # GIVEN a significant gain and a whole stack 20% slower
    cand, curr = paired(200, both=150, candidate_only=22, current_only=2)
    # WHEN judged
    outcome, reasons = judge(cand, curr, p95=120.0)
    # THEN refused
    assert outcome is GateOutcome.INVESTIGATE
    assert reasons[3].endswith("too slow")


def test_the_pairs_must_cover_every_harness_case() -> None:
    # GIVEN paired answers for fewer cases than the harness holds
    cand, curr = paired(40, both=30, candidate_only=5, current_only=0)
    # WHEN / THEN the gate refuses to decide on partial data
    with pytest.raises(ValueError, match="paired results"):
        decide(side(2, cand), side(1, curr), CONFIG, list(zip(cand, curr, strict=True))[:10])


@pytest.mark.parametrize(
    ("accuracy", "expected"), [(0.7, GateOutcome.PROMOTE), (0.65, GateOutcome.INVESTIGATE)]
)
def test_first_version_is_gated_on_the_absolute_minimum(accuracy: float, expected: GateOutcome) -> None:
    # GIVEN nothing deployed and 40 cases (20 per class)
    right = [i < accuracy * 40 for i in range(40)]
    # WHEN the first version is judged
    decision = decide(side(1, right, p95_ms=500.0), None, CONFIG)
    # THEN only the absolute minimum accuracy counts (latency has nothing to compare with)
    assert decision.outcome is expected
    assert decision.current_version is None
    assert "first version" in decision.reasons[0]


def test_mcnemar_and_bootstrap_on_known_numbers() -> None:
    # GIVEN discordant counts WHEN tested THEN the exact binomial tail
    assert mcnemar_one_sided(1, 0) == 0.5
    assert mcnemar_one_sided(0, 0) == 1.0
    assert mcnemar_one_sided(5, 0) == pytest.approx(1 / 32)
    # AND a bootstrap interval of a gain that is always +1 case in 10 is that gain
    low, high = bootstrap_interval([(True, False)] * 10, 0.95, 500)
    assert low == high == 1.0


def test_bad_gate_config_names_the_field() -> None:
    with pytest.raises(ValueError, match="min_accuracy_gain"):
        GateConfig(min_accuracy_gain=-0.1)
