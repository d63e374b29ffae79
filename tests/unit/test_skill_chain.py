"""`make skills` trains a parent skill before the skills that start from it."""

from __future__ import annotations

from scripts.real_skills import DEFAULT_CONFIGS, parents_after_children
from training.config import load_config, parse_config


def test_the_default_skill_chain_trains_every_parent_first() -> None:
    # GIVEN the configs `make skills` trains, in its order
    configs = [load_config(path) for path in DEFAULT_CONFIGS]
    # WHEN the order is checked THEN no skill comes before the skill it starts from
    assert parents_after_children(configs) == []
    # AND the variant skills start from the all-models skill, which starts from the make skill
    starts = {c.skill: c.network.pretrained for c in configs}
    assert starts["car-model"] == "skill:car-make"
    assert {starts[f"car-variant-{make}"] for make in ("audi", "bmw", "chevrolet", "dodge")} == {
        "skill:car-model"
    }


def test_a_child_listed_before_its_parent_is_named() -> None:
    # GIVEN a variant listed before the skill it starts from
    child = parse_config({"skill": "variant", "network": {"pretrained": "skill:parent"}})
    parent = parse_config({"skill": "parent"})
    # WHEN the order is checked THEN the child and its parent are named
    assert parents_after_children([child, parent]) == ["variant starts from parent, listed after it"]
    assert parents_after_children([parent, child]) == []
