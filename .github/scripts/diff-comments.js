// Posts `mentatctl diff -o markdown` output as sticky pull-request comments.
//
// The output is one or more comments, each starting with a marker line
// `<!-- mentatctl-diff:<workspace>:part-<n> -->`. Part n updates the bot's comment with the
// same marker in place (untouched when its text is the same), a missing part is created, and
// parts a shorter diff no longer has are deleted. Comments of other workspaces, and anyone
// else's comments, are never touched. Used by .github/workflows/ci.yml through
// actions/github-script: `await require(".github/scripts/diff-comments.js")({github, context, text})`.
"use strict";

const MARKER = /^<!-- mentatctl-diff:([a-z0-9-]+):part-(\d+) -->$/gm;
const HEAD = /^<!-- mentatctl-diff:([a-z0-9-]+):part-(\d+) -->/;

function split(text) {
  const starts = [...text.matchAll(MARKER)];
  if (starts.length === 0) throw new Error("mentatctl diff printed no comment");
  const workspace = starts[0][1];
  const parts = starts.map((m, i) => text.slice(m.index, starts[i + 1]?.index ?? text.length));
  return { workspace, parts };
}

module.exports = async function post({ github, context, text }) {
  const { workspace, parts } = split(text);
  const { owner, repo } = context.repo;
  const issue_number = context.issue.number;
  const existing = await github.paginate(github.rest.issues.listComments,
    { owner, repo, issue_number, per_page: 100 });
  const ours = new Map();
  for (const c of existing) {
    const m = HEAD.exec(c.body ?? "");
    if (m && m[1] === workspace && c.user?.type === "Bot") ours.set(Number(m[2]), c);
  }
  const done = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
  for (const [i, body] of parts.entries()) {
    const old = ours.get(i + 1);
    ours.delete(i + 1);
    if (!old) {
      await github.rest.issues.createComment({ owner, repo, issue_number, body });
      done.created++;
    } else if (old.body !== body) {
      await github.rest.issues.updateComment({ owner, repo, comment_id: old.id, body });
      done.updated++;
    } else {
      done.unchanged++;
    }
  }
  for (const c of ours.values()) {
    await github.rest.issues.deleteComment({ owner, repo, comment_id: c.id });
    done.deleted++;
  }
  return done;
};
module.exports.split = split;
