"""Rendered objects as block YAML, written by libyaml's C emitter.

`yaml.dump` spends most of its time in PyYAML's Python representer, serializer and resolver,
which run for every node even with `CSafeDumper` (only emission is C). Rendered objects are
plain trees of dicts, lists and scalars, so we hand libyaml the event stream directly; each
distinct scalar is represented and resolved once by PyYAML's own representer and resolver,
exactly as its Serializer does, and the event is reused. libyaml still decides every byte:
quoting, escaping, indentation, line breaks. The one difference from `yaml.dump`: an object
that occurs twice is written out twice, never as an `&id001` anchor, which is what manifests
should look like anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import yaml
from yaml import events as ev

__all__ = ["dump", "dump_all"]

_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Representer(yaml.representer.SafeRepresenter):
    def represent_str(self, data: str) -> yaml.ScalarNode:
        # multi-line text (embedded JSON, configs) reads best as a literal block
        style = "|" if "\n" in data else None
        return self.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Representer.add_representer(str, _Representer.represent_str)

_representer = _Representer()
_resolver = yaml.resolver.Resolver()
_scalars: dict[tuple[type, Any], ev.ScalarEvent] = {}
_MAP, _MAP_END = ev.MappingStartEvent(None, None, True, flow_style=False), ev.MappingEndEvent()
_SEQ, _SEQ_END = ev.SequenceStartEvent(None, None, True, flow_style=False), ev.SequenceEndEvent()
_EMPTY_MAP = ev.MappingStartEvent(None, None, True, flow_style=True)
_EMPTY_SEQ = ev.SequenceStartEvent(None, None, True, flow_style=True)


def _scalar(value: Any) -> ev.ScalarEvent:
    node = cast(yaml.ScalarNode, _representer.represent_data(value))  # keys and leaves only
    _representer.represented_objects.clear()
    detected = _resolver.resolve(yaml.ScalarNode, node.value, (True, False))
    default = _resolver.resolve(yaml.ScalarNode, node.value, (False, True))
    event = ev.ScalarEvent(None, node.tag, (node.tag == detected, node.tag == default),
                           node.value, style=node.style)
    _scalars[(type(value), value)] = event
    return event


def _events(obj: Any, out: list[ev.Event]) -> None:
    kind = type(obj)
    if kind is dict:
        out.append(_MAP if obj else _EMPTY_MAP)
        for key, value in obj.items():
            out.append(_scalars.get((type(key), key)) or _scalar(key))
            _events(value, out)
        out.append(_MAP_END)
    elif kind is list or kind is tuple:
        out.append(_SEQ if obj else _EMPTY_SEQ)
        for value in obj:
            _events(value, out)
        out.append(_SEQ_END)
    else:
        out.append(_scalars.get((kind, obj)) or _scalar(obj))


def dump_all(objs: Iterable[Any], *, explicit_start: bool = False) -> bytes:
    out: list[ev.Event] = [ev.StreamStartEvent()]
    for obj in objs:
        out.append(ev.DocumentStartEvent(explicit=explicit_start))
        _events(obj, out)
        out.append(ev.DocumentEndEvent(explicit=False))
    out.append(ev.StreamEndEvent())
    return yaml.emit(out, Dumper=_DUMPER, allow_unicode=True, width=4096).encode()


def dump(obj: Any) -> bytes:
    return dump_all((obj,))
