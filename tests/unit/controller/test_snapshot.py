"""The snapshot of what was applied: read back as written, a file with a failed object left
out, anything unreadable or for another inventory read as empty."""

from __future__ import annotations

from pathlib import Path

from compiler.controller import snapshot as snap
from compiler.controller.inventory import Ref
from compiler.controller.snapshot import Seen


def _seen(name: str, rv: str = "7") -> Seen:
    return Seen(Ref("apps", "Deployment", "app", name, "v1"), "d" * 64, f"uid-{name}", rv)


def test_saved_and_loaded_back(tmp_path: Path) -> None:
    a, b = _seen("a"), _seen("b", "9")
    built = snap.build("ws.staging.r1", "https://k:6443", {"x.yaml": "1" * 64, "y.yaml": "2" * 64},
                       {"x.yaml": [a.ref.key], "y.yaml": [b.ref.key]}, [a, b])
    path = tmp_path / "applied" / "ws.staging.r1.json"
    snap.save(path, built)
    got = snap.load(path, "ws.staging.r1")
    assert got.server == "https://k:6443"
    assert got.unchanged("x.yaml", "1" * 64) == (a,)
    assert got.unchanged("y.yaml", "2" * 64) == (b,)
    assert got.unchanged("y.yaml", "3" * 64) is None  # the file changed since
    assert got.unchanged("z.yaml", "1" * 64) is None


def test_a_file_with_an_object_not_applied_is_left_out() -> None:
    a, b = _seen("a"), _seen("b")
    built = snap.build("i", "s", {"x.yaml": "1" * 64}, {"x.yaml": [a.ref.key, b.ref.key]}, [a])
    assert built.files == {}


def test_unreadable_or_foreign_snapshots_are_empty(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    assert snap.load(path, "i").files == {}  # absent
    path.write_text("{not json")
    assert snap.load(path, "i").files == {}
    path.write_text('{"version": 1, "inventory": "i", "server": "s", "files": {"x.yaml": ["1", [["a"]]]}}')
    assert snap.load(path, "i").files == {}  # a malformed row
    snap.save(path, snap.build("other", "s", {"x.yaml": "1"}, {"x.yaml": [_seen("a").ref.key]}, [_seen("a")]))
    assert snap.load(path, "i").files == {}  # another inventory's
    assert snap.load(path, "other").unchanged("x.yaml", "1") == (_seen("a"),)
