"""`mentatctl init` and `mentatctl new agent|flow`: new sources from Jinja2 templates.

The templates ship with the package (compiler/data/templates). Every generated Agent or
Flow is checked against its schema before anything is written, and files are never
overwritten (init: unless --force), so a scaffold either lands whole or not at all.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import jinja2
import semantic_version

from compiler import __version__
from compiler.diagnostics import render_text
from compiler.load import WORKSPACE_FILE, LoadResult, load, parse_yaml
from compiler.model.raw import RawDoc
from compiler.output import (
    DOCUMENT_FORMATS,
    emit,
    output_option,
    warning,
    workspace_option,
    workspace_root,
)
from compiler.validate import schema_diagnostics

__all__ = ["Scaffold", "agent_files", "flow_files", "init", "init_files", "new"]

_DNS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Scaffold:
    """Files to create, relative to `base`, in the order they are written."""

    base: Path
    files: dict[str, bytes]


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("compiler", "data/templates"),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True,
        lstrip_blocks=True, autoescape=False)


def _render(template: str, **values: Any) -> bytes:
    return _env().get_template(template).render(**values).encode("utf-8")


def dns_label(name: str, what: str) -> str:
    if len(name) > 63 or not _DNS.match(name):
        raise click.BadParameter(
            f"{name!r} is not a valid {what} name: a DNS-1123 label (lowercase letters, "
            "digits and '-', starting and ending with a letter or digit, at most 63)",
            param_hint="NAME")
    return name


def _wat_literal(text: str) -> str:
    """`text` as a WebAssembly text string literal (every byte that needs it as \\hh)."""
    return "".join(chr(b) if 0x20 <= b < 0x7f and b not in (0x22, 0x5c) else f"\\{b:02x}"
                   for b in text.encode("utf-8"))


def _checked(files: dict[str, bytes]) -> dict[str, bytes]:
    """Generated YAML must be valid as written: a failure here is a template bug."""
    for rel, content in files.items():
        if not rel.endswith(".yaml") or rel == WORKSPACE_FILE:
            continue
        docs, diags = parse_yaml(rel, content)
        diags += [d for doc in docs for d in schema_diagnostics(doc)]
        if diags:
            raise click.ClickException("template produced an invalid document:\n"
                                       + render_text(diags))
    return files


# --- init --------------------------------------------------------------------------------


def init_files(name: str, registry: str = "ghcr.io/example", region: str = "eu-west-1",
               output: str = "rendered/") -> dict[str, bytes]:
    """A workspace with one wasm source agent and an hourly flow: it compiles as it is."""
    agent = flow = "hello"
    greeting = json.dumps({"greeting": f"hello from {name}"}) + "\n"
    return _checked({
        WORKSPACE_FILE: _render("init/mentat.yaml.j2", name=name, registry=registry,
                                region=region, output=output),
        "README.md": _render("init/README.md.j2", name=name, output=output, agent=agent,
                             flow=flow),
        ".gitignore": _render("init/gitignore.j2"),
        ".github/workflows/mentat.yml": _render("init/workflow.yml.j2", output=output,
                                                version=__version__),
        f"flows/agents/{agent}.yaml": _render("agent-wasm.yaml.j2", name=agent, source=True),
        f"flows/agents/{agent}.wat": _render(
            "agent-source.wat.j2", name=agent, output_literal=_wat_literal(greeting),
            output_len=len(greeting.encode())),
        f"flows/flows/{flow}.yaml": _render(
            "flow.yaml.j2", name=flow, owner=f"{name}-team"[:63].strip("-"),
            nodes=[{"id": agent, "agent": f"{agent}@^0.1"}], edges=[]),
    })


def _default_name(path: Path) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", path.resolve().name.lower()).strip("-")[:63].strip("-")
    return name or "workspace"


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--name", help="The workspace's name (default: the directory's, as a DNS label).")
@click.option("--registry", default="ghcr.io/example", show_default=True,
              help="The registry container images must come from.")
@click.option("--region", default="eu-west-1", show_default=True,
              help="The region of both environments (staging, prod).")
@click.option("--force", is_flag=True,
              help="Write into a non-empty directory, replacing the files init writes.")
@output_option()
def init(directory: str, name: str | None, registry: str, region: str, force: bool,
         fmt: str) -> None:
    """Create a workspace in DIRECTORY (default: here) that compiles at once.

    It holds mentat.yaml, a WebAssembly agent (flows/agents/hello.yaml and .wat), an hourly
    flow (flows/flows/hello.yaml), a GitHub workflow that validates and checks rendered/,
    a README and a .gitignore. A directory that is not empty (apart from .git) is refused
    unless --force; --force replaces only the files init writes.

    \b
    Examples:
      mentatctl init my-flows && cd my-flows && mentatctl compile
      git init . && mentatctl init . --name shop --registry ghcr.io/acme
    """
    base = Path(directory)
    ws_name = dns_label(name, "workspace") if name else _default_name(base)
    files = init_files(ws_name, registry, region)
    if base.exists() and not force:
        present = sorted(p.name for p in base.iterdir() if p.name != ".git")
        if present:
            raise click.UsageError(
                f"{directory} is not empty ({', '.join(present[:5])}"
                f"{', ...' if len(present) > 5 else ''}): init writes only into an empty "
                "directory; --force writes anyway, replacing " + ", ".join(files))
    _write(Scaffold(base, files), overwrite=force)
    _report(fmt, base, files, [f"cd {directory}" if directory != "." else "",
                               "mentatctl compile"])


# --- new ---------------------------------------------------------------------------------


def agent_files(name: str, runtime: str, directory: str, image: str | None,
                registry: str) -> dict[str, bytes]:
    """One agent (and its .wat module for wasm) under `directory` (workspace-relative)."""
    base = f"{directory.rstrip('/')}/" if directory not in ("", ".") else ""
    if runtime == "wasm":
        return _checked({
            f"{base}{name}.yaml": _render("agent-wasm.yaml.j2", name=name, source=False),
            f"{base}{name}.wat": _render("agent-echo.wat.j2", name=name),
        })
    pinned = image or f"{registry}/{name}@sha256:{'0' * 64}"
    return _checked({f"{base}{name}.yaml": _render(
        "agent-container.yaml.j2", name=name, image=pinned, placeholder=image is None)})


@dataclass(frozen=True, slots=True)
class _Agent:
    name: str
    version: str
    inputs: list[tuple[str, str]]  # (pin, type)
    outputs: list[tuple[str, str]]


def _agents(docs: list[RawDoc]) -> dict[str, _Agent]:
    """The newest version of each agent in the workspace, read loosely (the documents are
    validated by `validate`, not here)."""
    found: dict[str, _Agent] = {}
    for doc in docs:
        meta, spec = doc.data.get("metadata"), doc.data.get("spec")
        if doc.kind != "Agent" or not isinstance(meta, dict) or not isinstance(spec, dict):
            continue
        try:
            version = semantic_version.Version(str(meta.get("version")))
            pins = [[(str(p["name"]), str(p["type"])) for p in spec.get(side) or []]
                    for side in ("inputs", "outputs")]
        except (ValueError, TypeError, KeyError):
            continue
        name = str(meta.get("name"))
        if name not in found or version > semantic_version.Version(found[name].version):
            found[name] = _Agent(name, str(version), pins[0], pins[1])
    return found


def _node_id(agent: str, taken: set[str]) -> str:
    """A node id from the agent's name: a letter first, at most 32 characters, unique."""
    stem = agent if agent[0].isalpha() else f"n-{agent}"
    node, n = stem[:32].rstrip("-"), 2
    while node in taken:
        node, n = f"{stem[:29].rstrip('-')}-{n}", n + 1
    return node


def flow_files(name: str, directory: str, chain: list[_Agent], owner: str,
               ranges: list[str] | None = None) -> tuple[dict[str, bytes], list[str]]:
    """A flow of `chain`, each agent's inputs wired to an output of the one before it of the
    same type; also the input pins left unconnected. `ranges`: each agent's version range
    ("" for ^MAJOR.MINOR of its newest version)."""
    nodes, edges, loose = [], [], []
    ids: set[str] = set()
    for i, agent in enumerate(chain):
        node = _node_id(agent.name, ids)
        ids.add(node)
        newest = semantic_version.Version(agent.version)
        wanted = (ranges[i] if ranges else "") or f"^{newest.major}.{newest.minor}"
        nodes.append({"id": node, "agent": f"{agent.name}@{wanted}"})
        for pin, type_ in agent.inputs:
            prev = chain[i - 1] if i else None
            src = next((p for p, t in prev.outputs if t == type_), None) if prev else None
            if src is None:
                loose.append(f"{node}.{pin}")
            else:
                edges.append({"src": f"{nodes[i - 1]['id']}.{src}", "dst": f"{node}.{pin}"})
    base = f"{directory.rstrip('/')}/" if directory not in ("", ".") else ""
    return _checked({f"{base}{name}.yaml": _render(
        "flow.yaml.j2", name=name, owner=owner, nodes=nodes, edges=edges)}), loose


@click.group()
def new() -> None:
    """Add an agent or a flow to the workspace, from a template.

    \b
    Examples:
      mentatctl new agent resize --runtime wasm
      mentatctl new flow thumbnails --agent fetch-images --agent resize
    """


def _where(root: Path, loaded: LoadResult, directory: str | None, kind: str) -> str:
    if directory is not None:
        target = (Path.cwd() / directory).resolve()
        if target != root and root not in target.parents:
            raise click.BadParameter(f"{directory} is outside the workspace", param_hint="--dir")
        return target.relative_to(root).as_posix()
    spec = loaded.workspace.data.get("spec") if loaded.workspace else None
    sources = spec.get("sources") if isinstance(spec, dict) else None
    first = sources[0] if isinstance(sources, list) and sources and isinstance(
        sources[0], str) else "."
    return f"{first.rstrip('/')}/{kind}"


def _existing(loaded: LoadResult, kind: str, name: str) -> RawDoc | None:
    return next((d for d in loaded.docs if d.kind == kind and isinstance(
        d.data.get("metadata"), dict) and d.data["metadata"].get("name") == name), None)


@new.command("agent")
@click.argument("name")
@click.option("--runtime", type=click.Choice(["container", "wasm"]), required=True,
              help="container (an image) or wasm (a WebAssembly module, .wat next to it).")
@workspace_option(argument=False)
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Where to write it (default: AGENTS under the first source directory).")
@click.option("--image", help="container: the image, pinned by digest.")
@output_option()
def new_agent(name: str, runtime: str, workspace: str, directory: str | None,
              image: str | None, fmt: str) -> None:
    """Create agent NAME: an input pin `text`, an output pin `text`, resources set.

    The wasm template's module copies its input to its output and runs at once under
    `mentatctl wasm run NAME --input text=hello`.

    \b
    Examples:
      mentatctl new agent echo --runtime wasm
      mentatctl new agent ocr --runtime container --image ghcr.io/acme/ocr@sha256:<digest>
    """
    dns_label(name, "agent")
    if image is not None and runtime != "container":
        raise click.BadParameter("only a container agent has an image", param_hint="--image")
    root = workspace_root(workspace)
    loaded = load(root)
    found = _existing(loaded, "Agent", name)
    if found is not None:
        raise click.UsageError(f"agent {name!r} already exists ({found.file}:"
                               f"{found.pos().line}): choose another name, or add a version "
                               "to that file")
    spec = loaded.workspace.data.get("spec", {}) if loaded.workspace else {}
    registries = spec.get("registries") if isinstance(spec, dict) else None
    registry = registries[0] if isinstance(registries, list) and registries else "ghcr.io/example"
    files = agent_files(name, runtime, _where(root, loaded, directory, "agents"), image,
                        str(registry))
    _write(Scaffold(root, files), overwrite=False)
    hint = f"mentatctl wasm run {name} --input text=hello" if runtime == "wasm" else \
        "mentatctl validate"
    _report(fmt, root, files, [hint])


@new.command("flow")
@click.argument("name")
@click.option("--agent", "agents", multiple=True, metavar="AGENT",
              help="An agent of the workspace, in order (repeat); each one's inputs are wired "
                   "to the previous one's outputs of the same type. Default: the source agents "
                   "(those without inputs).")
@click.option("--owner", help="The flow's owner label (default: the workspace's name + -team).")
@workspace_option(argument=False)
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Where to write it (default: FLOWS under the first source directory).")
@output_option()
def new_flow(name: str, agents: tuple[str, ...], owner: str | None, workspace: str,
             directory: str | None, fmt: str) -> None:
    """Create flow NAME: an hourly job running AGENTs in a chain.

    \b
    Examples:
      mentatctl new flow nightly --agent fetcher --agent summarizer
      mentatctl new flow hello-again          # the workspace's source agents
    """
    dns_label(name, "flow")
    root = workspace_root(workspace)
    loaded = load(root)
    found = _existing(loaded, "Flow", name)
    if found is not None:
        raise click.UsageError(f"flow {name!r} already exists ({found.file}:"
                               f"{found.pos().line}): choose another name")
    known = _agents(loaded.docs)
    if agents:
        missing = [a for a in agents if a.partition("@")[0] not in known]
        if missing:
            raise click.BadParameter(f"no agent {', '.join(missing)} in the workspace "
                                     f"(agents: {', '.join(sorted(known)) or 'none'})",
                                     param_hint="--agent")
        chain = [known[a.partition("@")[0]] for a in agents]
        ranges = [a.partition("@")[2] for a in agents]
    else:
        chain = [a for _, a in sorted(known.items()) if not a.inputs]
        ranges = [""] * len(chain)
        if not chain:
            raise click.UsageError("the workspace has no agent without inputs: name the "
                                   "flow's agents with --agent")
    ws_name = loaded.workspace.data.get("metadata", {}).get("name", "") if loaded.workspace \
        else ""
    files, loose = flow_files(name, _where(root, loaded, directory, "flows"), chain,
                              owner or f"{ws_name}-team"[:63].strip("-") or "team", ranges)
    _write(Scaffold(root, files), overwrite=False)
    _report(fmt, root, files, [f"mentatctl graph {name}"], {"unconnected": loose})
    if loose and fmt not in DOCUMENT_FORMATS:
        warning(f"input pins left to connect in {next(iter(files))}: " + ", ".join(loose))


# --- writing -----------------------------------------------------------------------------


def _write(s: Scaffold, *, overwrite: bool) -> None:
    """Every file or none: each written to a temporary name, then all renamed into place
    (a failure removes the temporaries and what was renamed so far)."""
    taken = [rel for rel in s.files if (s.base / rel).exists()]
    if taken and not overwrite:
        raise click.UsageError(f"{', '.join(taken)} already exist(s) in {s.base}: "
                               "nothing was written")
    staged: list[tuple[str, Path]] = []
    placed: list[Path] = []
    try:
        for rel, content in s.files.items():
            path = s.base / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            staged.append((rel, Path(name)))
            with os.fdopen(fd, "wb") as f:
                f.write(content)
            os.chmod(name, 0o644)
        for rel, staged_file in staged:
            existed = (s.base / rel).exists()
            os.replace(staged_file, s.base / rel)
            if not existed:
                placed.append(s.base / rel)
    except OSError as e:
        for _, staged_file in staged:
            staged_file.unlink(missing_ok=True)
        for path in placed:
            path.unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {e.filename}: {e.strerror}") from e


def _report(fmt: str, base: Path, files: dict[str, bytes], next_steps: list[str],
            more: dict[str, object] | None = None) -> None:
    """What was created and what to run next; `more` is data the document adds (text says it
    in its own words, such as a warning)."""
    steps = [s for s in next_steps if s]
    lines = [f"created {rel}" for rel in files] + (["next: " + " && ".join(steps)] if steps else [])
    emit(fmt, {"ok": True, "root": str(base.resolve()), "created": list(files), **(more or {})},
         text="\n".join(lines))
