"""The controller's image, checked without a Docker engine: the base pinned, the process
non-root with the uid the rendered Deployment runs as, `mentatctl controller` what the
container runs, and every file it copies present."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]


def _instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip()) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last:]


def _deployments() -> list[dict[str, Any]]:
    paths = sorted(REPO.glob("rendered/*/*/deployment-mentat-controller.yaml"))
    found = [yaml.safe_load(p.read_text()) for p in paths]
    assert found, "the committed rendered/ holds the controller's Deployment"
    return found


def test_every_base_image_is_pinned() -> None:
    for op, arg in _instructions():
        if op == "FROM":
            image = arg.split()[0]
            assert "@sha256:" in image or re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", image), image


def test_runs_non_root_as_the_deployment_says() -> None:
    users = [arg for op, arg in _final_stage() if op == "USER"]
    assert users, "the final stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    for deploy in _deployments():
        [container] = deploy["spec"]["template"]["spec"]["containers"]
        ctx = container["securityContext"]
        assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] == int(uid)
        assert ctx["readOnlyRootFilesystem"] is True


def test_the_container_runs_mentatctl_controller() -> None:
    entry = [arg for op, arg in _final_stage() if op == "ENTRYPOINT"]
    assert entry == ['["mentatctl"]']  # exec form: SIGTERM reaches the controller, not a shell
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["mentatctl"] == "compiler.cli:entry"
    for deploy in _deployments():
        [container] = deploy["spec"]["template"]["spec"]["containers"]
        assert "command" not in container and container["args"][0] == "controller"
    env = " ".join(arg for op, arg in _final_stage() if op == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # a read-only root filesystem: no .pyc writes


def test_what_it_copies_exists_and_mentat_home_holds_the_resources() -> None:
    for op, arg in _instructions():
        if op == "COPY" and not arg.startswith("--from"):
            for source in arg.split()[:-1]:
                assert (REPO / source).exists(), source
    home = re.search(r"MENTAT_HOME=(\S+)", " ".join(arg for op, arg in _final_stage() if op == "ENV"))
    assert home is not None
    copied = {arg.split()[-1] for op, arg in _final_stage() if op == "COPY"}
    assert {f"{home.group(1)}/schemas", f"{home.group(1)}/policies"} <= copied
