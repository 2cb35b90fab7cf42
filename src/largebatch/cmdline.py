"""One style for every command line: options generated from a dataclass, parsed, and kept quiet on exit.

A command declares its options as a dataclass whose fields carry a type, a default and a trailing comment
(the help, with its unit), as TrainConfig does; `Command` turns it into a parser and a help page:

    @dataclass
    class Options:
        scale: Literal["smoke", "cpu", "paper"] = "cpu"  # which grid's runs to collect
        timeout: int = 60  # seconds per notebook cell

    CLI = Command("python -m largebatch.figures", __doc__, Options, sections={"what to run": ("scale",)})
    opts, extra = CLI.parse(argv)          # UsageError (one line) on bad input

Every help page reads the same: options grouped in sections, each with its value type, choices, default
and unit. Options are `--key=value` or `--key value` (`-` and `_` alike), a bool alone means true and
`--no-key` false; a misspelt option gets "did you mean". `run_main` runs a command's main(): a bad value
is one line and exit 2, Ctrl-C one line and exit 130, and a reader that closes the pipe early (`--help |
head`) ends it quietly. `largebatch.train`'s help (largebatch.cli) is rendered here too, from TrainConfig.
"""

from __future__ import annotations

import ast
import inspect
import io
import os
import shutil
import sys
import textwrap
import tokenize
import typing
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from functools import cache

from .errors import ConfigError
from .registry import did_you_mean

HELP = ("-h", "--help")
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


class UsageError(ConfigError):
    """A bad command line: one line naming the option and the fix (exit 2)."""


@cache
def field_comments(cls: type) -> dict[str, str]:
    """{field: its trailing comment} of a dataclass's body and its bases' (the help of each option)."""
    out = {}
    for base in cls.__mro__[1:]:
        if base is not object and "__dataclass_fields__" in vars(base):
            out.update(field_comments(base))
    try:
        src = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return out
    comments = {}
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    for node in ast.parse(src).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            text = comments.get(node.end_lineno) or comments.get(node.lineno)
            if text:
                out[node.target.id] = text
    return out


@dataclass(frozen=True)
class Opt:
    """One option as shown and parsed: the field's name, type of its default, choices and help."""

    name: str
    default: object
    help: str = ""
    choices: tuple = ()
    positional: bool = False
    meta: str = ""  # the value's placeholder, e.g. PATH (default: from the type or the choices)
    show_default: bool = True
    switch: bool = False  # written as --name alone (a run flag such as --dry or --no-resume)

    @property
    def short_choices(self) -> bool:
        """Choices few and short enough to be the placeholder: --scale={smoke,cpu,paper}."""
        return bool(self.choices) and len(",".join(map(str, self.choices))) <= 30

    @property
    def kind(self) -> type:
        return type(self.default)

    def flag(self, valued_bools: bool = False) -> str:
        """How the option is written: STUDY, --dry, --no-wait, --scale=S ..."""
        if self.positional:
            return self.name.upper()
        if self.switch:
            return f"--{self.name}"
        if isinstance(self.default, bool) and not valued_bools:
            return f"--no-{self.name}" if self.default else f"--{self.name}"
        if self.meta:
            return f"--{self.name}={self.meta}"
        if self.short_choices:
            meta = "{" + ",".join(map(str, self.choices)) + "}"
        else:
            meta = {bool: "BOOL", int: "INT", float: "FLOAT", tuple: "X,Y,..."}.get(self.kind, "TEXT")
            meta = "NAME" if self.choices and meta == "TEXT" else meta
        return f"--{self.name}={meta}"

    def line(self, valued_bools: bool = False) -> str:
        """The help text: the comment, then the choices and the default."""
        parts = [self.help.rstrip()] if self.help else []
        said = all(str(c) in self.help for c in self.choices)  # the comment lists them already
        if self.choices and (self.positional or not self.short_choices) and not said:
            parts.append("[" + " | ".join(map(str, self.choices)) + "]")
        shown_bool, d = valued_bools or not isinstance(self.default, bool), self.default
        if self.show_default and not self.switch and not self.positional and shown_bool and d != "":
            shown = (
                "empty"
                if d == ()
                else str(d).lower()
                if isinstance(d, bool)
                else ",".join(f"{v:g}" for v in d)
                if isinstance(d, tuple)
                else repr(d)
                if d == ""
                else str(d)
            )
            parts.append(f"(default: {shown})")
        return " ".join(parts)


def options_of(cls: type, choices: dict | None = None, positional: Sequence[str] = ()) -> list[Opt]:
    """The Opts of dataclass `cls`: help from the field comments, choices from `Literal[...]` annotations
    or `choices` ({field: tuple or a function returning one, evaluated now})."""
    hints = typing.get_type_hints(cls)
    helps, choices = field_comments(cls), choices or {}
    out = []
    for f in fields(cls):
        if f.name.startswith("_"):
            continue
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        ch = choices.get(f.name, ())
        ch = tuple(ch() if callable(ch) else ch)
        if not ch and typing.get_origin(hints.get(f.name)) is typing.Literal:
            ch = typing.get_args(hints[f.name])
        out.append(Opt(f.name, default, helps.get(f.name, ""), ch, f.name in positional))
    return out


def _wrap(flag: str, text: str, width: int, col: int = 28) -> list[str]:
    head = f"  {flag}"
    body = textwrap.wrap(text, max(width - col, 30)) or [""]
    if len(head) + 2 > col:
        return [head] + [" " * col + b for b in body if b]
    return [head.ljust(col) + body[0]] + [" " * col + b for b in body[1:]]


def render_help(
    usage: str,
    description: str,
    sections: Sequence[tuple[str, Sequence[Opt]]],
    epilog: str = "",
    valued_bools: bool = False,
) -> str:
    """A help page: usage, description, then each section's options (flag, help, choices, default)."""
    width = min(shutil.get_terminal_size((100, 24)).columns, 110)
    lines = [f"usage: {usage}", ""]
    if description:
        lines += [textwrap.fill(p, width) for p in description.strip().split("\n\n")] + [""]
    for title, opts in sections:
        if not opts:
            continue
        lines.append(f"{title}:")
        for o in opts:
            lines += _wrap(o.flag(valued_bools), o.line(valued_bools), width)
        lines.append("")
    lines.append("  -h, --help".ljust(28) + "this help")
    if epilog:
        lines += [""] + [textwrap.fill(p, width) for p in epilog.strip().split("\n\n")]
    return "\n".join(lines) + "\n"


@dataclass
class Command:
    """A command line generated from the dataclass `options` (see the module docstring).

    Args:
        prog: how the command is run, e.g. "python -m largebatch.figures".
        description: the help's first paragraph(s).
        options: dataclass of the options.
        sections: {title: field names}; fields in no section are listed under "options".
        positional: fields given without a flag, in order (e.g. the study).
        choices: {field: tuple or function} where a Literal annotation cannot say it (e.g. study names).
        extra: None: anything else is an error; else the help line of the `--key=value ...` passed through.
        epilog: text after the options.
    """

    prog: str
    description: str
    options: type
    sections: dict[str, Sequence[str]] = field(default_factory=dict)
    positional: Sequence[str] = ()
    choices: dict = field(default_factory=dict)
    extra: str | None = None
    epilog: str = ""

    def opts(self) -> list[Opt]:
        return options_of(self.options, self.choices, self.positional)

    def usage(self) -> str:
        pos = " ".join(n.upper() for n in self.positional)
        tail = " [--key=value ...]" if self.extra else ""
        return f"{self.prog} {pos + ' ' if pos else ''}[options]{tail}"

    def help(self) -> str:
        opts = {o.name: o for o in self.opts()}
        groups, used = [], set()
        if self.positional:
            groups.append(("arguments", [opts[n] for n in self.positional]))
            used |= set(self.positional)
        for title, names in self.sections.items():
            groups.append((title, [opts[n] for n in names]))
            used |= set(names)
        rest = [o for n, o in opts.items() if n not in used]
        if rest:
            groups.insert(1 if self.positional else 0, ("options", rest))
        epilog = self.epilog
        if self.extra:
            epilog = f"--key=value ...: {self.extra}" + (f"\n\n{epilog}" if epilog else "")
        return render_help(self.usage(), self.description, groups, epilog)

    def parse(self, argv: Sequence[str]):
        """(options instance, the pass-through arguments). Prints the help and raises SystemExit(0) on
        -h/--help; raises UsageError on anything it cannot read."""
        argv = list(argv)
        if any(a in HELP for a in argv):
            print(self.help(), end="")
            raise SystemExit(0)
        opts = {o.name: o for o in self.opts()}
        flags = {n: o for n, o in opts.items() if not o.positional}
        values, extra, pos, i = {}, [], list(self.positional), 0
        while i < len(argv):
            a = argv[i]
            i += 1
            if not a.startswith("--"):
                if not pos:
                    raise UsageError(f"unexpected argument {a!r} (`{self.prog} --help` lists the options)")
                values[pos.pop(0)] = a
                continue
            name, eq, text = a[2:].partition("=")
            key = name.replace("-", "_")
            neg = key[2:].lstrip("_") if key.startswith("no") else ""
            if key not in flags and isinstance(getattr(flags.get(neg), "default", None), bool):
                if eq:
                    raise UsageError(f"--{name} takes no value; use --{neg}=false")
                values[neg] = False
                continue
            if key not in flags:
                if self.extra is not None:
                    extra.append(a)
                    if not eq and i < len(argv) and not argv[i].startswith("--"):
                        extra.append(argv[i])
                        i += 1
                    continue
                raise UsageError(
                    f"unknown option --{name}{did_you_mean(key, flags)} (`{self.prog} --help` lists them)"
                )
            o = flags[key]
            if not eq:
                if isinstance(o.default, bool):
                    if i < len(argv) and argv[i].lower() in _TRUE + _FALSE:
                        text, i = argv[i], i + 1
                    else:
                        text = "true"
                elif i < len(argv) and not argv[i].startswith("--"):
                    text, i = argv[i], i + 1
                else:
                    raise UsageError(f"--{name}: give a value, e.g. --{name}={o.default}")
            values[key] = self._convert(o, text)
        if pos:
            names = " ".join(p.upper() for p in pos)
            hint = f" ({' | '.join(map(str, opts[pos[0]].choices))})" if opts[pos[0]].choices else ""
            raise UsageError(f"missing {names}{hint}; usage: {self.usage()}")
        for n, v in values.items():
            if opts[n].positional and opts[n].choices and v not in opts[n].choices:
                raise UsageError(
                    f"{n} {v!r}: choose one of {', '.join(map(str, opts[n].choices))}"
                    f"{did_you_mean(v, opts[n].choices)}"
                )
        return self.options(**values), extra

    @staticmethod
    def _convert(o: Opt, text: str):
        try:
            if isinstance(o.default, bool):
                if text.lower() not in _TRUE + _FALSE:
                    raise ValueError
                v = text.lower() in _TRUE
            elif isinstance(o.default, int):
                v = int(text)
            elif isinstance(o.default, float):
                v = float(text)
            else:
                v = text
        except ValueError:
            kind = {bool: "true or false", int: "an integer", float: "a number"}[o.kind]
            raise UsageError(f"--{o.name}={text!r}: expected {kind}") from None
        if o.choices and v not in o.choices:
            raise UsageError(
                f"--{o.name}={text!r}: choose one of {', '.join(map(str, o.choices))}"
                f"{did_you_mean(str(v), map(str, o.choices))}"
            )
        return v


def usage_error(prog: str, msg: str) -> int:
    """Print `<prog> error: <msg>` to stderr (a bad option, named with its fix); returns exit status 2."""
    print(f"{prog} error: {msg}", file=sys.stderr)
    return 2


def quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run_main(main: Callable[..., int], *args, name: str = "", **kw) -> int:
    """main(*args, **kw)'s exit code, with the endings every command shares: UsageError/ConfigError one
    line and 2, Ctrl-C one line and 130, a closed stdout (`| head`) quietly 141 (128 + SIGPIPE)."""
    label = name or "command"
    try:
        return int(main(*args, **kw) or 0)
    except SystemExit as e:  # --help (Command.parse), or a main that exits itself
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    except ConfigError as e:
        print(f"{label} error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{label}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        quiet_stdout()
        return 141


def exit_with(main: Callable[..., int], *args, name: str = "", **kw) -> typing.NoReturn:
    """`sys.exit(run_main(...))` for a module's `if __name__ == "__main__"` and the console scripts."""
    code = run_main(main, *args, name=name, **kw)
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        quiet_stdout()
        code = code or 141
    sys.exit(code)


__all__ = [
    "Command",
    "Opt",
    "UsageError",
    "field_comments",
    "options_of",
    "render_help",
    "run_main",
    "exit_with",
]
