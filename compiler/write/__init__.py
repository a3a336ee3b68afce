"""Stage 8, write: the only code that touches the output tree (`tree`), the stat walks of
output trees (`walk`), and what the last compiles left in them (`outputs`)."""

from compiler.write.tree import (
    Known,
    Standby,
    TreeDiff,
    diff_tree,
    foreign,
    hold,
    read_tree,
    snapshot,
    untouched,
    write_tree,
)

__all__ = ["Known", "Standby", "TreeDiff", "diff_tree", "foreign", "hold", "read_tree",
           "snapshot", "untouched", "write_tree"]
