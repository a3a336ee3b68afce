"""The fast emitter writes exactly what libyaml writes, and dump_json what json.dumps does."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.generate import generate
from compiler.pipeline import compile_workspace
from compiler.render.emit import Emitter, dump_json
from compiler.render.layout import _libyaml_dump, dump_yaml

REPO = Path(__file__).resolve().parents[3]

TRICKY_STRINGS = [
    "", " ", "plain", "true", "True", "TRUE", "yes", "No", "on", "OFF", "y", "n", "null", "Null",
    "~", "1", "01", "0x1F", "1_000", "1:20", "1.0", ".5", ".inf", "-.inf", ".nan", "1e3",
    "2024-01-01", "2024-01-01T00:00:00Z", "=", "<<", "-", "- x", "-x", "?", "? x", ":", "a:",
    "a: b", "a:b", "a #b", "a#b", "#x", "&a", "*a", "!tag", "|", ">", "'q'", '"q"', "%x", "@x",
    "`x", "x,y", "[x]", "{x}", "trailing ", " leading", "tab\there", "ünïcödé", "日本語",
    "emoji 🎉", "\x07bell", "\u2028sep", "line\nbreak", "ends with newline\n", "\n", "a\n\nb\n",
    "  indented\nblock\n", "trailing space \nline", "x" * 2000, "word " * 300,
    "ghcr.io/x/y@sha256:" + "a" * 64, "mentatlab.flow=x,cloud.region=eu-west-1", "a=b",
    "kubernetes.io/ws", "/etc/mentat", "http://x.y:9000", "a::b", "ns:", "x@", "+1", "-1",
    "0o17", "0b101", "1,000", "---", "...", "--- x", "null ", "~x", "Yes!", "on-call",
]


def _corpus() -> list[Any]:
    rng = random.Random(7)
    scalars: list[Any] = [*TRICKY_STRINGS, 0, 1, -5, 10**20, True, False, None, 1.5, -0.0,
                          1e20, 1e-7, float("inf"), 3.0]

    def value(depth: int) -> Any:
        r = rng.random()
        if depth > 3 or r < 0.5:
            return rng.choice(scalars)
        if r < 0.75:
            return {rng.choice([s for s in TRICKY_STRINGS if isinstance(s, str)]) or "k":
                    value(depth + 1) for _ in range(rng.randint(0, 4))}
        return [value(depth + 1) for _ in range(rng.randint(0, 4))]

    docs: list[Any] = [{"k": s} for s in scalars] + [{s: 1} for s in TRICKY_STRINGS]
    docs += [{"a": value(0), "b": [value(1), {"c": value(1)}], "d": [[value(2)], []]}
             for _ in range(400)]
    shared = ["x", "y"]
    docs.append({"one": shared, "two": shared})  # libyaml writes an anchor and an alias
    docs += [{"only": {}}, {"only": []}, {"s": [{}, [], [[]]]}, {"x": {"y": {"z": "a\nb\n"}}}]
    return docs


@pytest.mark.parametrize("doc", _corpus(), ids=lambda d: repr(d)[:40])
def test_emitter_matches_libyaml(doc: Any) -> None:
    expected = _libyaml_dump(doc)
    assert Emitter(_libyaml_dump).dump(doc) == expected
    assert yaml.safe_load(expected) == doc or doc != doc  # NaN aside, it round-trips


def test_emitter_matches_libyaml_on_whole_compiles(tmp_path: Path) -> None:
    generate(400, tmp_path / "ws", seed=11)
    for root in (REPO, tmp_path / "ws"):
        result = compile_workspace(root, stop_after="check")
        assert result.rendered is not None and result.ok, result.diagnostics
        for o in result.rendered.objects:
            assert dump_yaml(o.obj) == _libyaml_dump(o.obj), f"{o.dir} {o.kind} {o.name}"


def test_emitter_matches_libyaml_on_random_strings() -> None:
    rng = random.Random(13)
    pool = "aZ09 _-./:@#,=+!&*?|>'\"%`{}[]~\t\n\r\\é日🎉\x85\u2028\x07"
    emitter = Emitter(_libyaml_dump)
    for _ in range(3000):
        s = "".join(rng.choice(pool) for _ in range(rng.randint(0, 12)))
        doc = {"k": s, s or "e": [s, {"n": s}], "l": [[s]]}
        assert emitter.dump(doc) == _libyaml_dump(doc), repr(s)


@pytest.mark.parametrize("value", [
    {}, [], {"b": 1, "a": [1, 2, {"z": None, "y": True}], "c": "é\"\\\n"}, [[], {}, [[]]],
    {"files": [{"path": "a/b.yaml", "sha256": "0" * 64, "sources": ["x", "y"]}]},
    {"f": 1.5, "g": -0.0, "h": 10**30, "i": False},
    {"u": "日本 🎉 \u2028 \x07 \t", "nested": [{"é": ["ü", 1, None]}]},
])
def test_dump_json_matches_json_dumps(value: Any) -> None:
    assert dump_json(value) == json.dumps(value, indent=2, sort_keys=True)
    assert dump_json(value, ensure_ascii=False) == json.dumps(value, indent=2, sort_keys=True,
                                                              ensure_ascii=False)
