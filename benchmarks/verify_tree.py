"""Time `verify` (PKI) of a generated output tree: N small files in 100 directories.

    /work/venv/bin/python -m benchmarks.verify_tree [N]      # from the repo root; N=10000

Signs once, then reports the best of five verifications (whole verify: bundle, chain, DSSE,
hashing every file) and of the tree hashing alone. Target: <= 0.5 s for 10,000 files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

from compiler.sign.pki import init_pki, load_pki
from compiler.sign.signer import sign_pki, write_signature
from compiler.sign.statement import BuildContext
from compiler.sign.tree import hash_tree
from compiler.sign.verify import load_trust_roots, verify_pki


def _tree(root: Path, n: int) -> None:
    entries = []
    for i in range(n):
        rel = f"env-{i % 100:02d}/region/object-{i:05d}.yaml"
        content = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: o{i}}}\ndata: {{k: '{i}'}}\n".encode()
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
        entries.append({"path": rel, "sha256": hashlib.sha256(content).hexdigest(), "sources": []})
    index = {
        "apiVersion": "mentatlab.io/v1",
        "kind": "Index",
        "workspace": "bench",
        "compiler": {"name": "mentatctl", "version": "0.1.0"},
        "files": sorted(entries, key=lambda e: e["path"]),
        "sources": [],
    }
    (root / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def _best(fn: object, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    now = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory() as tmp:
        out, pki_dir = Path(tmp) / "rendered", Path(tmp) / "pki"
        _tree(out, n)
        init_pki(pki_dir, now=now)
        signed = sign_pki(out, load_pki(pki_dir), BuildContext(), now=now)
        assert not signed.diagnostics and write_signature(out, signed.bundle) is None
        roots = load_trust_roots((pki_dir / "root.pem").read_bytes())
        result = verify_pki(out, roots)
        assert result.ok and result.files == n, result.diagnostics
        verify_s = _best(lambda: verify_pki(out, roots))
        hash_s = _best(lambda: hash_tree(out))
    print(f"{n} files: verify {verify_s * 1000:.0f} ms (hashing alone {hash_s * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
