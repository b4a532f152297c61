"""Every code example in README.md and docs/*.md runs, and shows what it really prints.

The pages are found by globbing, so a new page is tested the day it is written.  Rules
for the people writing them (the README says it in short, under "A tour"):

* Every ```python block runs, in a fresh temporary folder that is the working directory,
  the blocks of one page in order and sharing one namespace (a page reads as one session).
  A block that cannot run here (a cluster address, a file the reader has) belongs in
  another fence (```text), never in a skip list.
* ``expression  # -> VALUE`` on a line of its own statement: the expression's repr must
  match VALUE.
* A ```text block right after a python block (nothing but blank lines between) is that
  block's standard output, and must match it.
* Matching: whitespace runs are equal to each other (and NumPy's padding before a number
  or a punctuation mark is ignored); ``...`` stands for any text; a number
  written with decimals matches within one unit of its last digit (0.95 matches 0.94 to
  0.96), a whole number matches exactly.
* Every ```bash line that runs ``glassnet COMMAND ...`` names a command and options the
  parser knows.
"""
from __future__ import annotations

import ast
import contextlib
import glob
import io
import os
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *map(Path, glob.glob(str(ROOT / "docs" / "*.md")))])

_FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
_NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
_TOKEN = re.compile(rf"(\.\.\.)|({_NUMBER})|(\s+)|(.)", re.S)


def blocks(text: str) -> list[dict]:
    """The fenced blocks of a page: language, code, first line, and the text between a
    block and the previous one (to tell a python block's output block)."""
    out, end = [], 0
    for m in _FENCE.finditer(text):
        out.append({"lang": m.group(1).lower(), "code": m.group(2),
                    "line": text.count("\n", 0, m.start()) + 1,
                    "gap": text[end:m.start()]})
        end = m.end()
    return out


def python_examples(page: Path) -> list[tuple[dict, dict | None]]:
    """(python block, the text block showing its output or None), in page order."""
    found = blocks(page.read_text(encoding="utf-8"))
    pairs = []
    for i, b in enumerate(found):
        if b["lang"] != "python":
            continue
        nxt = found[i + 1] if i + 1 < len(found) else None
        shown = nxt if nxt is not None and nxt["lang"] == "text" and not nxt["gap"].strip() \
            else None
        pairs.append((b, shown))
    return pairs


# --- matching printed text against the docs, numbers within the digits shown ---------------

def _pattern(expected: str) -> tuple[re.Pattern, list[str]]:
    parts, numbers = [], []
    for ellipsis, number, space, other in _TOKEN.findall(expected.strip()):
        if ellipsis:
            parts.append(r".*?")
        elif number:                    # NumPy pads numbers with spaces to align them
            parts.append(rf"\s*({_NUMBER})")
            numbers.append(number)
        elif space:
            parts.append(r"\s+")
        else:
            parts.append((r"\s*" if not other.isalnum() else "") + re.escape(other))
    return re.compile("".join(parts), re.S), numbers


def _close(shown: str, actual: str) -> bool:
    value = float(actual)
    mantissa = re.split("[eE]", shown)[0]
    if "." not in mantissa:
        return value == float(shown)
    decimals = len(mantissa.split(".")[1])
    exponent = int(re.split("[eE]", shown)[1]) if re.search("[eE]", shown) else 0
    unit = 10.0 ** (exponent - decimals)
    return abs(value - float(shown)) <= unit * (1 + 1e-9)


def matches(expected: str, actual: str) -> bool:
    """``actual`` reads as ``expected``: same text, '...' for anything, numbers to the
    digits shown."""
    pattern, numbers = _pattern(expected)
    m = pattern.fullmatch(actual.strip())
    return bool(m) and all(_close(s, a) for s, a in zip(numbers, m.groups()))


def _checked_source(code: str) -> tuple[str, list]:
    """The block's source with every ``expr  # -> VALUE`` line turned into a check."""
    tree = ast.parse(code)
    lines = code.splitlines()
    wanted = {}
    for node in tree.body:
        if not isinstance(node, ast.Expr):
            continue
        last = lines[node.end_lineno - 1]
        if "# -> " in last:
            wanted[node.lineno] = (node.end_lineno, last.split("# -> ", 1)[1].strip())
    checks, out, skip_to = [], [], 0
    for no, line in enumerate(lines, 1):
        if no <= skip_to:
            continue
        if no in wanted:
            end, value = wanted[no]
            expr = "\n".join(lines[no - 1:end])
            expr = expr[:expr.rindex("# -> ")]
            indent = line[:len(line) - len(line.lstrip())]
            out.append(f"{indent}__docs_check__({len(checks)}, ({expr.strip()}))")
            checks.append((no, value))
            skip_to = end
        else:
            out.append(line)
    return "\n".join(out), checks


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_python_block_runs_and_prints_what_the_page_shows(page, tmp_path, monkeypatch):
    examples = python_examples(page)
    if not examples:
        return
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    failures = []

    def check(index, value):
        line, shown = current[index]
        got = repr(value)
        if not matches(shown, got):
            failures.append(f"{page.name}, line {start + line}: shows {shown!r}, got {got!r}")

    namespace["__docs_check__"] = check
    for block, shown in examples:
        start = block["line"]          # the fence line; code line k is start + k
        source, current = _checked_source(block["code"])
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(source, f"{page.name}:{start}", "exec"), namespace)
        if shown is not None and not matches(shown["code"], printed.getvalue()):
            failures.append(f"{page.name}, the text block at line {shown['line']} shows\n"
                            f"{shown['code']}\nbut the block above it printed\n"
                            f"{printed.getvalue()}")
    assert not failures, "\n\n".join(failures)


# --- the documented command lines name commands and options that exist ---------------------

def _commands(page: Path):
    """(line, words) for every ``glassnet ...`` command in the page's shell blocks."""
    for b in blocks(page.read_text(encoding="utf-8")):
        if b["lang"] not in ("bash", "sh", "shell", "console"):
            continue
        for line in re.sub(r"\\\n", " ", b["code"]).splitlines():
            lexer = shlex.shlex(line.strip().removeprefix("$ "), posix=True,
                                punctuation_chars=True)
            lexer.whitespace_split = True
            words: list[str] = []
            for token in [*lexer, ";"]:
                if token in ("&&", "||", ";", "|", "&"):
                    if words and words[0] == "glassnet":
                        yield b["line"], words
                    words = []
                elif token.strip("[]"):
                    words.append(token.strip("[]"))


def _parser_options(words: list[str]):
    """(parser, the words it was given) for a documented ``glassnet ...`` line."""
    import argparse

    from glassnet.cli import build_parser
    parser = build_parser()
    args = words[1:]
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or not args or args[0].startswith("-"):
            return parser, args
        assert args[0] in subs[0].choices, f"no command {args[0]!r}"
        parser, args = subs[0].choices[args[0]], args[1:]


def test_every_documented_glassnet_command_and_option_exists():
    seen = 0
    for page in PAGES:
        for line, words in _commands(page):
            command = " ".join(words)
            parser, args = _parser_options(words)
            known = {o for a in parser._actions for o in a.option_strings}
            for word in args:
                option = word.split("=", 1)[0]
                if option.startswith("--") or re.fullmatch(r"-[a-zA-Z]", option):
                    assert option in known, (f"{page.name}, line {line}: {command!r} uses "
                                             f"{option}, which `{' '.join(parser.prog.split()[1:])}`"
                                             " does not have")
            seen += 1
    assert seen > 10           # the pages do document commands: the search found them


# --- the matcher itself -------------------------------------------------------------------

def test_matching_rules():
    assert matches("{'loss': 0.16, 'accuracy': 0.95}", "{'loss': 0.1597, 'accuracy': 0.9511}")
    assert not matches("{'loss': 0.16}", "{'loss': 0.19}")
    assert matches("((64, 64), (64,))", "((64, 64), (64,))")
    assert not matches("((64, 64), (64,))", "((64, 65), (64,))")
    assert matches("ERROR no_update (layers 1, 2)\n  cause: ...", "ERROR no_update (layers 1,"
                   " 2)\n  cause:   anything\n at all")
    assert not matches("healthy", "ERROR no_update")
    assert matches("[0.5 0.8808]", "[0.5        0.88079708]")
    assert matches("1e-3", "0.001") and not matches("2.5e-3", "0.0027")


def test_the_command_table_lists_every_command():
    from glassnet.cli import COMMANDS
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    table = text[text.index("| command |"):text.index("\n\n", text.index("| command |"))]
    for name in COMMANDS:
        assert f"| `glassnet {name}" in table, f"docs/cli.md's command table lacks {name}"
