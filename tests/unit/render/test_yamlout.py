"""The event-stream writer gives libyaml's own `yaml.dump` bytes (minus anchors), and what it
writes reads back as exactly the data it was given."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

from compiler.pipeline import compile_workspace
from compiler.render import yamlout

REPO = Path(__file__).resolve().parents[3]


class _Reference(yaml.CSafeDumper):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True  # yamlout never writes anchors


def _literal(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                   style="|" if "\n" in value else None)


_Reference.add_representer(str, _literal)


def reference(obj: Any) -> bytes:
    return yaml.dump(obj, Dumper=_Reference, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=4096).encode()


TRICKY = [
    "", " ", "true", "True", "yes", "no", "on", "off", "null", "~", "Null", "1", "01", "0x1F",
    "0o17", "1_000", "1e3", "1.0", ".5", "-.inf", ".NaN", "2024-01-01", "2024-01-01T10:00:00Z",
    "12:30", "1:2:3", "- item", "? key", ": value", "# comment", "a: b", "a #b", "@handle",
    "`tick", "!tag", "&anchor", "*alias", "|", ">", "'single'", '"double"', "%percent",
    "{flow}", "[flow]", " leading", "trailing ", "tab\there", "line\nbreak", "two\n\nbreaks\n",
    "trailing space \nline", "ünïcödé", "日本語", "emoji 🚀", "\u2028sep", "nul\x00", "bell\x07",
    "x" * 5000, "=", "<<", "0", "-0", "+1", "1.", "0.1.2", "v1.2.3", "1.2.3+build",
]
SCALARS: list[Any] = [*TRICKY, 0, -1, 2**70, 1.5, -0.0, 1e-7, float("inf"), True, False, None]


def test_tricky_scalars_match_libyaml_and_round_trip() -> None:
    for value in SCALARS:
        for doc in ({"k": value}, {"list": [value, {"nested": value}]}, {str(value): 1}):
            assert yamlout.dump(doc) == reference(doc), repr(value)
            assert yaml.safe_load(yamlout.dump(doc)) == doc, repr(value)


def test_random_strings_round_trip() -> None:
    rng = random.Random(7)
    alphabet = "ab:-#?{}[],&*!|>'\"%@` \t\n\\0123456789.eEtruefalsnyo~é日\u0085\ufeff"
    for _ in range(2000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        doc = {"s": s, s: [s]}
        assert yaml.safe_load(yamlout.dump(doc)) == doc, repr(s)
        assert yamlout.dump(doc) == reference(doc), repr(s)


def test_every_rendered_object_of_the_example_matches_libyaml() -> None:
    result = compile_workspace(REPO)
    assert result.rendered is not None
    for o in result.rendered.objects:
        assert yamlout.dump(o.obj) == reference(o.obj), o.name


def test_shared_objects_are_written_out_not_anchored() -> None:
    probe = {"httpGet": {"path": "/", "port": 8080}}
    text = yamlout.dump({"livenessProbe": probe, "readinessProbe": probe}).decode()
    assert "&" not in text and "*" not in text and text.count("httpGet") == 2


def test_streams_have_explicit_document_starts() -> None:
    text = yamlout.dump_all([{"a": 1}, {"b": [], "c": {}}], explicit_start=True).decode()
    assert text == "---\na: 1\n---\nb: []\nc: {}\n"
    assert list(yaml.safe_load_all(text)) == [{"a": 1}, {"b": [], "c": {}}]
