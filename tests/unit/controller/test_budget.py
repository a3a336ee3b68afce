"""The prune budget: a share of the inventory, guarded kinds, and never an empty tree."""

from __future__ import annotations

import pytest

from compiler.controller.budget import Budget, BudgetError, check_budget, parse_allow
from compiler.controller.inventory import Ref


def _refs(n: int, kind: str = "ConfigMap") -> list[Ref]:
    return [Ref("", kind, "app", f"o{i}", "v1") for i in range(n)]


def test_within_the_default_share() -> None:
    assert check_budget(_refs(3), 10, 7, Budget()) == []
    assert check_budget([], 10, 0, Budget()) == []


def test_at_least_one_object_may_go_from_a_small_inventory() -> None:
    assert check_budget(_refs(1), 2, 1, Budget()) == []


def test_more_than_the_share_is_refused_with_the_flag_that_approves_it() -> None:
    reasons = check_budget(_refs(4), 10, 6, Budget())
    assert reasons == ["would prune 4 of 10 inventory objects, more than 30% (3); "
                       "approve with --allow-prune 40%"]
    assert check_budget(_refs(4), 10, 6, parse_allow(["40%"])) == []
    assert check_budget(_refs(4), 10, 6, parse_allow(["all"])) == []


@pytest.mark.parametrize("kind", ["Namespace", "CustomResourceDefinition", "PersistentVolumeClaim"])
def test_guarded_kinds_need_their_own_approval(kind: str) -> None:
    ref = _refs(1, kind)
    assert check_budget(ref, 10, 9, Budget()) == [f"would prune {ref[0]}; approve with --allow-prune {kind}"]
    assert check_budget(ref, 10, 9, parse_allow([f"{kind},10%"])) == []


def test_an_empty_tree_never_prunes_even_with_all() -> None:
    reasons = check_budget(_refs(2), 2, 0, parse_allow(["all"]))
    assert reasons == ["the rendered tree is empty: refusing to prune all 2 object(s) of the inventory"]


def test_parse_allow_refuses_nonsense() -> None:
    assert parse_allow(["Namespace", "50%"]) == Budget(0.5, frozenset({"Namespace"}))
    with pytest.raises(BudgetError, match="expected all"):
        parse_allow(["Deployment"])
    with pytest.raises(BudgetError, match="at most 100%"):
        parse_allow(["150%"])
