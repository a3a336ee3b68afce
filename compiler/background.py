"""`Background`: a call running in a thread of its own, as a Future without an executor."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Background"]

T = TypeVar("T")


class Background(Generic[T]):
    """`fn(*args)` started in a thread of its own; `result` waits for its value (or raises
    what it raised). A plain thread, not concurrent.futures: importing that imports logging,
    ~4 ms of a one-shot compile that needs none of it. The policy phases use it; their
    threads only wait on forked evaluators."""

    def __init__(self, fn: Callable[..., T], *args: object, name: str = "background") -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), name=name)
        self._thread.start()

    def _run(self, fn: Callable[..., T], args: tuple[object, ...]) -> None:
        try:
            self._value = fn(*args)
        except BaseException as e:  # handed to whoever waits, as a Future does
            self._error = e

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set when no error was raised
