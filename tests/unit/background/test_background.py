"""A call started in the background hands its value, or what it raised, to whoever waits."""

from __future__ import annotations

import threading

import pytest

from compiler.background import Background


def test_the_value_arrives_from_another_thread() -> None:
    ran_in: list[str] = []

    def work(a: int, b: int) -> int:
        ran_in.append(threading.current_thread().name)
        return a + b

    assert Background(work, 2, 3, name="policy").result() == 5
    assert ran_in == ["policy"]


def test_what_the_call_raised_is_raised_where_its_result_is_asked_for() -> None:
    def broken() -> int:
        raise ValueError("shard failed")

    job = Background(broken)
    with pytest.raises(ValueError, match="shard failed"):
        job.result()
