"""Group-aware, once-test-always-test split of catalog records into train / val / test.

A group (advert) is the unit of the split: every image of a group lands on the same side.
A new group's side comes from a salted hash of its id (deterministic, independent of which
other groups exist, so adding data never moves anything); the first assignment of a group is
persisted in the catalog and wins for ever after, even if the fractions change later.
Validation is carved from the train side the same way (the hash rescaled past the test band).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from functions.core.base.catalog import Catalog

_SCALE = float(2**64)


class Split(StrEnum):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


SPLIT_ORDER: tuple[Split, ...] = (Split.TRAIN, Split.VAL, Split.TEST)


class SplitPolicy(BaseModel):
    """How new groups are split. The salt is per project: another salt, another (equally fair) split."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    test_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    val_fraction: float = Field(default=0.1, ge=0.0, lt=1.0, description="share of the train side")
    salt: str = Field(default="skillforge", min_length=1)

    @model_validator(mode="after")
    def _train_left(self) -> SplitPolicy:
        if (1 - self.test_fraction) * (1 - self.val_fraction) <= 0.0:
            raise ValueError("test_fraction and val_fraction leave nothing to train on")
        return self


def group_hashes(group_ids: Iterable[str], salt: str) -> npt.NDArray[np.float64]:
    """A uniform number in [0, 1) per group id: the first 8 bytes of sha256(salt NUL group id)."""
    prefix = salt.encode("utf-8") + b"\x00"
    digests = b"".join(hashlib.sha256(prefix + gid.encode("utf-8")).digest()[:8] for gid in group_ids)
    return np.frombuffer(digests, dtype=">u8").astype(np.float64) / _SCALE


def hashed_split_codes(group_ids: Iterable[str], policy: SplitPolicy) -> npt.NDArray[np.int8]:
    """Codes into SPLIT_ORDER (0 train, 1 val, 2 test) from the hash alone (vectorised)."""
    u = group_hashes(group_ids, policy.salt)
    codes = np.zeros(u.shape, dtype=np.int8)
    test = u < policy.test_fraction
    rescaled = (u - policy.test_fraction) / (1.0 - policy.test_fraction)
    codes[~test & (rescaled < policy.val_fraction)] = 1
    codes[test] = 2
    return codes


def hashed_split(group_id: str, policy: SplitPolicy) -> Split:
    return SPLIT_ORDER[int(hashed_split_codes([group_id], policy)[0])]


def resolve_group_splits(
    group_ids: Iterable[str], existing: Mapping[str, str], policy: SplitPolicy
) -> tuple[dict[str, Split], dict[str, Split]]:
    """(split of every group, the new assignments among them): persisted assignments always win."""
    unique = list(dict.fromkeys(group_ids))
    new_ids = [gid for gid in unique if gid not in existing]
    codes = hashed_split_codes(new_ids, policy)
    new = {gid: SPLIT_ORDER[int(code)] for gid, code in zip(new_ids, codes, strict=True)}
    resolved = {gid: Split(existing[gid]) for gid in unique if gid in existing}
    resolved.update(new)
    return resolved, new


def persist_new_assignments(catalog: Catalog, new: Mapping[str, Split]) -> dict[str, Split]:
    """Write each new group's split; a concurrent writer's earlier assignment wins and is returned."""
    return {gid: Split(catalog.assign_group_split(gid, split.value)) for gid, split in new.items()}
