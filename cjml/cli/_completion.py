"""``cjml completion SHELL``: a tab-completion script for bash, zsh or tcsh (by shtab)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from cjml.cli import _help as h
from cjml.exceptions import CjmlError

SHELLS = ("bash", "zsh", "tcsh")

#: Placeholders whose values are files (completed with file names) or folders.
_FILES = {"PATH", "MODEL", "EVENTS"}
_FOLDERS = {"DIR"}


def _completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The script shtab generates for ``parser``, file names completed where a value is a
    file or folder."""
    try:
        import shtab
    except ImportError:  # a dependency of cjml; missing only in a hand-made environment
        raise CjmlError("Shell completion needs the shtab package: pip install shtab") from None
    for action in _all_actions(parser):
        if action.metavar in _FILES:
            action.complete = shtab.FILE  # type: ignore[attr-defined]  # shtab reads this
        elif action.metavar in _FOLDERS:
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]  # shtab reads this
    return shtab.complete(parser, shell=shell)


def _all_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    actions = list(parser._actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                actions.extend(_all_actions(sub))
    return actions


def add_completion(
    sub: argparse._SubParsersAction, build_parser: Callable[[], argparse.ArgumentParser]
) -> None:
    def _cmd_completion(args: argparse.Namespace) -> int:
        print(_completion_script(build_parser(), args.shell), end="")
        return 0

    p = h.add_command(
        sub,
        "completion",
        summary="print a shell completion script (bash, zsh, tcsh)",
        description="Print the script that completes cjml's commands, options and file names "
        "when you press Tab. Load it from your shell's start-up file, or save it "
        "where your shell looks for completions.",
        examples=[
            (
                "completion bash > ~/.local/share/bash-completion/completions/cjml",
                "bash: loaded by bash-completion from the next shell on",
            ),
            (
                "completion zsh > ~/.zfunc/_cjml",
                "zsh: with fpath+=~/.zfunc before compinit in ~/.zshrc",
            ),
            (
                "completion tcsh > ~/.cjml.completion.csh",
                "tcsh: add 'source ~/.cjml.completion.csh' to ~/.tcshrc",
            ),
        ],
        see="Shell completion",
    )
    p.add_argument_group("Arguments").add_argument(
        "shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or tcsh"
    )
    h.finish_command(p).set_defaults(func=_cmd_completion)
