"""Property tests of the group-aware, once-test-always-test split."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core.dataset.split import Split, SplitPolicy, hashed_split, resolve_group_splits

group_ids = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=60, unique=True)


@given(groups=group_ids, test_fraction=st.floats(0.05, 0.5))
def test_a_group_is_never_on_both_sides(groups, test_fraction):
    # GIVEN several records per group (images of one advert)
    records = [g for g in groups for _ in range(3)]
    policy = SplitPolicy(test_fraction=test_fraction, salt="p")
    # WHEN the records are split
    resolved, _ = resolve_group_splits(records, {}, policy)
    # THEN each record's side is its group's side: one side per group
    sides: dict[str, set[Split]] = {}
    for group in records:
        sides.setdefault(group, set()).add(resolved[group])
    assert all(len(s) == 1 for s in sides.values())


@given(old=group_ids, new=group_ids, test_fraction=st.floats(0.05, 0.5), later_fraction=st.floats(0.05, 0.5))
def test_adding_records_never_moves_an_existing_group(old, new, test_fraction, later_fraction):
    # GIVEN a first extraction whose assignments were persisted
    first, assigned = resolve_group_splits(old, {}, SplitPolicy(test_fraction=test_fraction, salt="p"))
    persisted = {g: s.value for g, s in assigned.items()}
    # WHEN more groups arrive, even with another test fraction configured
    second, _ = resolve_group_splits(
        old + new, persisted, SplitPolicy(test_fraction=later_fraction, salt="p")
    )
    # THEN every earlier group keeps its side
    assert {g: second[g] for g in old} == first


@settings(max_examples=10, deadline=None)
@given(salt=st.text(min_size=1, max_size=8), test_fraction=st.sampled_from([0.1, 0.2, 0.3]))
def test_test_share_is_within_tolerance_for_many_groups(salt, test_fraction):
    # GIVEN 5,000 groups
    groups = [f"advert-{i}" for i in range(5000)]
    # WHEN they are split
    resolved, _ = resolve_group_splits(groups, {}, SplitPolicy(test_fraction=test_fraction, salt=salt))
    share = sum(s is Split.TEST for s in resolved.values()) / len(groups)
    # THEN the test share is the configured fraction ± 4 standard deviations (binomial)
    sigma = (test_fraction * (1 - test_fraction) / len(groups)) ** 0.5
    assert abs(share - test_fraction) < 4 * sigma


@given(groups=group_ids)
def test_split_is_deterministic_and_order_free(groups):
    # GIVEN a policy
    policy = SplitPolicy(salt="project")
    # WHEN the same groups are split twice, in another order
    once, _ = resolve_group_splits(groups, {}, policy)
    twice, _ = resolve_group_splits(list(reversed(groups)), {}, policy)
    # THEN the answers are equal, and equal to the one-at-a-time hash
    assert once == twice
    assert all(once[g] == hashed_split(g, policy) for g in groups)


def test_validation_is_carved_from_train_only():
    # GIVEN a policy with 20% test and 25% of train as validation
    policy = SplitPolicy(test_fraction=0.2, val_fraction=0.25, salt="s")
    resolved, _ = resolve_group_splits([f"g{i}" for i in range(8000)], {}, policy)
    counts = {s: sum(v is s for v in resolved.values()) for s in Split}
    # THEN about 20% test, 20% val (25% of the remaining 80%) and 60% train
    assert abs(counts[Split.TEST] / 8000 - 0.2) < 0.02
    assert abs(counts[Split.VAL] / 8000 - 0.2) < 0.02
