"""A small soak: local mode under injected faults must lose and duplicate nothing."""

from __future__ import annotations

import pytest

from scripts.local.faults import FaultPlan
from scripts.soak import soak
from tests.conftest import shared_models

pytestmark = pytest.mark.slow


def test_nothing_lost_or_duplicated_under_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN 40 uploads (bad inputs, duplicates, unicode keys) and high fault rates
    monkeypatch.setenv("SKILLFORGE_MODELS_DIR", str(shared_models()))
    plan = FaultPlan(seed=3, aws_error_rate=0.08, crash_rate=0.15, timeout_rate=0.3)
    # WHEN the soak runs
    figures = soak(40, max_seconds=300, plan=plan)
    # THEN faults really happened, and every upload is in exactly one terminal state
    assert figures["faults_injected"].get("handler_crash", 0) > 0
    assert figures["faults_injected"].get("invocation_timeout", 0) > 0
    assert figures["sdk_retries"] > 0
    assert figures["losses"] == 0
    assert figures["duplicates"] == 0
    assert figures["left_in_dlq"] == 0
    assert sum(figures["terminal_states"].values()) == 40
    assert figures["terminal_states"]["quarantined"] == 4
