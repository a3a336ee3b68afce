"""The workflow's comment poster (.github/scripts/diff-comments.js), run by node on real
`mentatctl diff -o markdown` output against an in-memory record of a pull request's
comments (the part of GitHub's REST client it calls): the first run creates one comment per
part, a re-run with the same diff changes nothing, a smaller diff updates in place and deletes
the parts it no longer has, and other people's or other workspaces' comments stay."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.unit.diff.diffkit import FLOW, GitWorkspace

REPO = Path(__file__).resolve().parents[2]
HARNESS = """
const post = require(process.argv[2]);
const fs = require("fs");
const state = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
let next = 1000;
const issues = {
  listComments: async () => state.comments,
  createComment: async ({ body }) => { state.comments.push({ id: next++, body, user: { type: "Bot" } }); },
  updateComment: async ({ comment_id, body }) => {
    state.comments.find((c) => c.id === comment_id).body = body;
  },
  deleteComment: async ({ comment_id }) => {
    state.comments = state.comments.filter((c) => c.id !== comment_id);
  },
};
const github = { rest: { issues }, paginate: async (fn, args) => fn(args) };
const context = { repo: { owner: "o", repo: "r" }, issue: { number: 7 } };
(async () => {
  const done = await post({ github, context, text: fs.readFileSync(process.argv[4], "utf8") });
  fs.writeFileSync(process.argv[3], JSON.stringify(state));
  process.stdout.write(JSON.stringify(done));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def _post(tmp: Path, state: Path, text: str) -> dict[str, int]:
    node = shutil.which("node")
    assert node, "node (Node.js 20+) is required"
    (tmp / "harness.js").write_text(HARNESS)
    (tmp / "diff.md").write_text(text)
    done = subprocess.run([node, str(tmp / "harness.js"),
                           str(REPO / ".github/scripts/diff-comments.js"), str(state),
                           str(tmp / "diff.md")], capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_comments_are_created_updated_and_pruned(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    for i in range(3):
        ws.write(f"flows/f{i}.yaml", FLOW.replace("name: digest", f"name: f{i}"))
    ws.commit("three flows")
    big = ws.run("--base", "main~1", "-o", "markdown", "--comment-limit", "8192").stdout
    ws.remove("flows/f2.yaml")
    ws.remove("flows/f1.yaml")
    ws.commit("only one")
    small = ws.run("--base", "main~2", "-o", "markdown", "--comment-limit", "8192").stdout
    n_big, n_small = big.count("<!-- mentatctl-diff:test:part-"), small.count(
        "<!-- mentatctl-diff:test:part-")
    assert n_big > n_small >= 1
    human = {"id": 1, "body": "<!-- mentatctl-diff:test:part-1 -->\nquoted by a person",
             "user": {"type": "User"}}
    other = {"id": 2, "body": "<!-- mentatctl-diff:other-ws:part-1 -->\n", "user": {"type": "Bot"}}
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"comments": [human, other]}))

    assert _post(tmp_path, state, big) == {"created": n_big, "updated": 0, "unchanged": 0,
                                           "deleted": 0}
    assert _post(tmp_path, state, big) == {"created": 0, "updated": 0, "unchanged": n_big,
                                           "deleted": 0}
    ours = [c for c in json.loads(state.read_text())["comments"] if c["id"] >= 1000]
    assert "".join(c["body"] for c in ours) == big
    assert _post(tmp_path, state, small) == {"created": 0, "updated": n_small, "unchanged": 0,
                                             "deleted": n_big - n_small}
    comments = json.loads(state.read_text())["comments"]
    assert comments[:2] == [human, other]
    assert "".join(c["body"] for c in comments[2:]) == small
