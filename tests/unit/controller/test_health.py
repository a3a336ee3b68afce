"""Health rules by kind, each naming why an object is not healthy yet."""

from __future__ import annotations

from typing import Any

from compiler.controller.health import check


def _never(ns: str, name: str) -> bool:
    return False


def _deploy(status: dict[str, Any], generation: int = 2, replicas: int = 2) -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": {"generation": generation}, "spec": {"replicas": replicas},
            "status": status}


def test_deployment_rolled_out() -> None:
    done = {"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2}
    assert check(_deploy(done), _never) == (None, False)
    assert check(_deploy({**done, "observedGeneration": 1}), _never)[0] == \
        "the controller has not observed the new generation yet"
    half = _deploy({**done, "availableReplicas": 1})
    assert check(half, _never)[0] == "1/2 replicas available, 2/2 updated"
    stuck = {**done, "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded",
                                     "message": "ReplicaSet web-1 has timed out progressing."}]}
    assert check(_deploy(stuck), _never)[0] == "rollout stuck: ReplicaSet web-1 has timed out progressing."


def test_job_complete_or_failed_for_good() -> None:
    job = {"kind": "Job", "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert check(job, _never) == (None, False)
    failed = {"kind": "Job", "status": {"conditions": [{"type": "Failed", "status": "True",
                                                        "reason": "BackoffLimitExceeded"}]}}
    assert check(failed, _never) == ("job failed: BackoffLimitExceeded", True)
    assert check({"kind": "Job", "status": {}}, _never) == ("job not complete", False)


def test_cronjob_crd_and_service() -> None:
    suspended = {"kind": "CronJob", "spec": {"suspend": True}}
    assert check(suspended, _never)[0] == "suspended: it will never be scheduled"
    assert check({"kind": "CronJob", "spec": {}}, _never)[0] is None
    established = [{"type": "Established", "status": "True"}]
    crd = {"kind": "CustomResourceDefinition", "status": {"conditions": established}}
    assert check(crd, _never)[0] is None
    assert check({"kind": "CustomResourceDefinition", "status": {}}, _never)[0] == "not Established"
    svc = {"kind": "Service", "metadata": {"namespace": "n", "name": "s"}, "spec": {"selector": {"a": "b"}}}
    assert check(svc, _never)[0] == "no ready endpoints (no ready pod matches its selector)"
    assert check(svc, lambda ns, name: (ns, name) == ("n", "s"))[0] is None
    assert check({"kind": "Service", "spec": {"type": "ExternalName"}}, _never)[0] is None
    assert check({"kind": "ConfigMap"}, _never) == (None, False)
