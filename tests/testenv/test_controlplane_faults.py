"""Faults at start are clear errors that carry the failing component's log, and stopping
leaves no process behind."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from testenv import ControlPlane, ControlPlaneError

pytestmark = pytest.mark.cluster


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie waiting to be reaped is gone for our purposes
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_a_port_in_use_is_refused(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ControlPlaneError, match=f"port {port} on 127.0.0.1 is in use"):
            ControlPlane(dir=tmp_path, apiserver_port=port, with_nodes=False).start()


def test_a_component_that_dies_at_start_shows_its_log(tmp_path: Path) -> None:
    plane = ControlPlane(dir=tmp_path, with_nodes=False,
                         extra_args={"kube-apiserver": ["--no-such-flag"]})
    with pytest.raises(ControlPlaneError) as e:
        plane.start()
    assert "kube-apiserver exited at start" in str(e.value)
    assert "unknown flag: --no-such-flag" in str(e.value)
    # etcd, started before it, was stopped too
    assert all(not _alive(c.proc.pid) for c in plane.components.values() if c.proc)


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    with ControlPlane(dir=tmp_path, with_nodes=False) as plane:
        pids = [c.proc.pid for c in plane.components.values() if c.proc]
        assert plane.get("/version")["gitVersion"] == "v1.36.3"
    assert pids and not any(_alive(p) for p in pids)
