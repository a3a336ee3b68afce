"""Retries: 429, 5xx, connection errors and optimistic-concurrency 409s are retried with
capped, jittered exponential backoff; a field-manager conflict and other 4xx never are."""

from __future__ import annotations

import pytest

from compiler.controller.client import (
    ApiError,
    ClientError,
    ConflictError,
    NotFoundError,
    Retry,
    ServerError,
    UnreachableError,
    _retryable,
    _typed,
)


def test_the_error_family_is_split_by_status() -> None:
    assert isinstance(_typed(404, "NotFound", "m", "", None), NotFoundError)
    assert isinstance(_typed(422, "Invalid", "m", "", None), ClientError)
    assert isinstance(_typed(429, "TooManyRequests", "m", "", None), ServerError)
    assert isinstance(_typed(503, "ServiceUnavailable", "m", "", None), ServerError)
    conflict = _typed(409, "Conflict", "m", "x", {"details": {"causes": [
        {"reason": "FieldManagerConflict", "message": 'conflict with "hpa"', "field": ".spec.replicas"}]}})
    assert isinstance(conflict, ConflictError)
    assert conflict.causes == ((".spec.replicas", 'conflict with "hpa"'),)


@pytest.mark.parametrize(("error", "retried"), [
    (ServerError(500, "", "m"), True),
    (ServerError(429, "", "m"), True),
    (UnreachableError(0, "", "m"), True),
    (ConflictError(409, "Conflict", "the object has been modified"), True),
    (ConflictError(409, "Conflict", "m", causes=((".spec.replicas", "conflict"),)), False),
    (ConflictError(409, "AlreadyExists", "m"), False),
    (ClientError(422, "Invalid", "m"), False),
    (NotFoundError(404, "NotFound", "m"), False),
])
def test_what_is_retried(error: ApiError, retried: bool) -> None:
    assert _retryable(error) is retried


def test_backoff_is_exponential_capped_and_jittered() -> None:
    full = Retry(base=0.5, cap=4.0, rand=lambda: 1.0)
    assert [full.delay(n) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert Retry(base=0.5, cap=4.0, rand=lambda: 0.25).delay(3) == 1.0
