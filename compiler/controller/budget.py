"""The prune budget: refuse a reconcile that would delete far too much (flux2#3949,
cli-utils#274, argo-cd#18780 are what happens without one).

Pure. Refused, unless `--allow-prune` approves it:
- more than a share of the inventory (default 30 %, at least one object),
- any Namespace, CustomResourceDefinition or PersistentVolumeClaim (they take data with them).
Never allowed at all: an empty rendered tree pruning the inventory (a broken build must not
read as "delete everything").
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from compiler.controller.inventory import Ref

__all__ = ["DEFAULT_SHARE", "GUARDED_KINDS", "Budget", "BudgetError", "check_budget", "parse_allow"]

DEFAULT_SHARE = 0.30
GUARDED_KINDS = frozenset({"Namespace", "CustomResourceDefinition", "PersistentVolumeClaim"})
_PERCENT = re.compile(r"(\d{1,3})%")


class BudgetError(ValueError):
    """An --allow-prune value that means nothing."""


@dataclass(frozen=True, slots=True)
class Budget:
    share: float = DEFAULT_SHARE
    kinds: frozenset[str] = frozenset()  # guarded kinds approved for deletion
    unlimited: bool = False  # --allow-prune all


def parse_allow(values: Iterable[str]) -> Budget:
    """`--allow-prune` values: a guarded kind, `N%` (a larger share), or `all`; comma-separated."""
    share, kinds, unlimited = DEFAULT_SHARE, set[str](), False
    for raw in values:
        for item in filter(None, (v.strip() for v in raw.split(","))):
            if item == "all":
                unlimited = True
            elif m := _PERCENT.fullmatch(item):
                if int(m.group(1)) > 100:
                    raise BudgetError(f"--allow-prune {item}: a share is at most 100%")
                share = max(share, int(m.group(1)) / 100)
            elif item in GUARDED_KINDS:
                kinds.add(item)
            else:
                raise BudgetError(f"--allow-prune {item!r}: expected all, N%, or one of "
                                  f"{', '.join(sorted(GUARDED_KINDS))}")
    return Budget(share, frozenset(kinds), unlimited)


def check_budget(prune: Sequence[Ref], inventory_size: int, desired_count: int, budget: Budget) -> list[str]:
    """Why this prune set is refused (empty: it is within budget)."""
    if not prune:
        return []
    if desired_count == 0:
        return [f"the rendered tree is empty: refusing to prune all {len(prune)} object(s) of the inventory"]
    if budget.unlimited:
        return []
    reasons = []
    limit = max(1, math.floor(budget.share * inventory_size + 1e-9))
    if len(prune) > limit:
        reasons.append(f"would prune {len(prune)} of {inventory_size} inventory objects, more than "
                       f"{round(budget.share * 100)}% ({limit}); approve with --allow-prune "
                       f"{min(100, math.ceil(100 * len(prune) / max(inventory_size, 1)))}%")
    for ref in prune:
        if ref.kind in GUARDED_KINDS and ref.kind not in budget.kinds:
            reasons.append(f"would prune {ref}; approve with --allow-prune {ref.kind}")
    return reasons
