"""`mentatctl completion bash|zsh|fish`: the shell completion script, printed for the user to
source (click's own completion machinery; it completes commands, options and choices)."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from compiler.output import emit

__all__ = ["completion"]

SHELLS = ("bash", "zsh", "fish")


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    Examples:
      source <(mentatctl completion bash)                 # this shell
      mentatctl completion bash > ~/.local/share/bash-completion/completions/mentatctl
      mentatctl completion zsh > "${fpath[1]}/_mentatctl"
      mentatctl completion fish > ~/.config/fish/completions/mentatctl.fish
    """
    root = ctx.find_root()
    cls = get_completion_class(shell)
    assert cls is not None  # click ships all three
    script = cls(root.command, {}, "mentatctl", "_MENTATCTL_COMPLETE").source()
    emit("text", text=script)  # a shell script: text only
