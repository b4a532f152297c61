"""glassnet's import graph: dependencies point down the layers, and nothing goes round.

The graph is read from the source (``ast``), so no module is imported to check it.  The
rules, from docs/architecture.md:

* every module belongs to a layer of :data:`LAYERS` and imports only from its own layer
  and the layers below;
* the only upward imports are the deliberate hand-offs of :data:`HAND_OFFS` (``Network.fit``
  hands a run to the training loop, ``Network.save`` to the model files), each made inside
  its method and commented there;
* glassnet modules import each other at the top of the module; an import inside a function
  is a hand-off, or a module that needs an optional extra (:data:`NEEDS_EXTRA`);
* at the top of a module only the standard library, NumPy and glassnet are imported:
  third-party extras stay lazy (except in the module that exists to wrap one);
* the graph has no cycle.

A new module fails here until it is given a layer: add it to LAYERS.
"""
from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "glassnet"

#: glassnet's layers, bottom first: a module may import from its own layer and those below.
#: A module is named by its first component under glassnet/ (``doctor`` is the package).
LAYERS = [
    ("base", {"_validation", "_version", "_registry", "_schema", "_mapped"}),
    ("maths", {"activations", "losses", "initializers", "schedules", "optimizers", "metrics"}),
    ("network", {"network", "backend", "_numba"}),
    ("training loop, doctor, files", {"callbacks", "progress", "history", "training", "neuro",
                                      "checkpoint", "io", "data", "convert", "export",
                                      "doctor", "tables", "dataset", "sources"}),
    ("edges", {"sklearn", "cli", "study", "report", "plots", "playground", "__init__",
               "__main__"}),
]

#: the deliberate upward imports: (module, function, imported module), each inside that
#: function with a comment saying why
HAND_OFFS = {
    ("glassnet.network", "Network.fit", "glassnet.training"),
    ("glassnet.network", "Network.fit", "glassnet.doctor"),
    ("glassnet.network", "Network.partial_fit", "glassnet.training"),
    ("glassnet.network", "Network.partial_fit", "glassnet.doctor"),
    ("glassnet.network", "Network.save", "glassnet.io"),
}

#: glassnet modules that need an optional extra to be imported at all: others import them
#: inside the function that needs them, and they may import their extra at their top
NEEDS_EXTRA = {"glassnet.sklearn": "scikit-learn", "glassnet.playground.server": "starlette",
               "glassnet._numba": "numba"}

#: what any module may import at its top besides the standard library and glassnet
CORE_DEPENDENCIES = {"numpy"}


class Edge(NamedTuple):
    source: str          # the importing module, e.g. "glassnet.doctor.probe"
    target: str          # the imported glassnet module, e.g. "glassnet.network"
    line: int
    function: str | None  # the enclosing function's qualified name; None at the top
    commented: bool      # a comment on the import or on the lines just above it


class Lazy(NamedTuple):
    """A third-party import, with where it is made."""

    source: str
    name: str
    line: int
    function: str | None


def read_graph(root: Path, package: str):
    """Every import between the modules under ``root`` (the package ``package``), and every
    third-party import at a module's top."""
    modules = {_module_name(p, root, package): p for p in sorted(root.rglob("*.py"))}
    edges, third_party = [], []
    for name, path in modules.items():
        source = path.read_text()
        lines = source.splitlines()
        is_package = path.name == "__init__.py"
        for node, function in _imports(ast.parse(source)):
            for target in _targets(node, name, is_package, package, modules):
                edges.append(Edge(name, target, node.lineno, function,
                                  _commented(lines, node.lineno)))
            for top in _third_party(node, package):
                third_party.append(Lazy(name, top, node.lineno, function))
    return modules, edges, third_party


def _module_name(path: Path, root: Path, package: str) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree):
    """(import node, enclosing function's qualified name or None), everywhere in the tree."""
    def walk(node, scope, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, ".".join(scope) if in_function else None
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from walk(child, scope + [child.name], True)
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, scope + [child.name], in_function)
            else:
                yield from walk(child, scope, in_function)
    yield from walk(tree, [], False)


def _targets(node, module: str, is_package: bool, package: str, modules) -> list:
    if isinstance(node, ast.Import):
        return [_known(a.name, modules) for a in node.names
                if a.name.split(".")[0] == package]
    if node.level == 0:
        base = node.module or ""
        if base.split(".")[0] != package:
            return []
    else:
        here = module.split(".") if is_package else module.split(".")[:-1]
        here = here[:len(here) - (node.level - 1)]
        base = ".".join(here + ([node.module] if node.module else []))
    out = []
    for a in node.names:   # ``from . import io`` imports the module glassnet.io
        out.append(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else _known(base, modules))
    return sorted(set(out))


def _known(name: str, modules) -> str:
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _third_party(node, package: str) -> list:
    if isinstance(node, ast.ImportFrom):
        names = [] if node.level or node.module == "__future__" else [node.module]
    else:
        names = [a.name for a in node.names]
    tops = {n.split(".")[0] for n in names}
    return sorted(t for t in tops if t != package and t not in sys.stdlib_module_names)


def _commented(lines, lineno: int) -> bool:
    """A comment on the import line, or in the block of comments and imports just above."""
    if "#" in lines[lineno - 1]:
        return True
    i = lineno - 2
    while i >= 0:
        text = lines[i].strip()
        if text.startswith("#"):
            return True
        if not text.startswith(("from ", "import ")):
            return False
        i -= 1
    return False


def layer_of(module: str, layers) -> int | None:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"
    for rank, (_, members) in enumerate(layers):
        if key in members:
            return rank
    return None


def problems(modules, edges, third_party, layers, hand_offs, needs_extra,
             allowed=CORE_DEPENDENCIES) -> list:
    """Every broken rule, as a sentence naming the file, the line and what to do."""
    out = []
    for module in modules:
        if layer_of(module, layers) is None:
            out.append(f"{module} has no layer: add it to LAYERS in tests/test_architecture.py "
                       "(and to docs/architecture.md)")
    for e in edges:
        here, there = layer_of(e.source, layers), layer_of(e.target, layers)
        if here is None or there is None or e.source == e.target:
            continue
        where = f"{e.source} line {e.line}" + (f" (in {e.function})" if e.function else "")
        hand_off = (e.source, e.function, e.target) in hand_offs
        if there > here and not hand_off:
            out.append(f"{where} imports {e.target} from a higher layer "
                       f"({layers[there][0]!r} above {layers[here][0]!r}): pass what it needs "
                       "down instead (an argument, a hook)")
        elif hand_off and not e.commented:
            out.append(f"{where}: the hand-off to {e.target} needs a comment saying why")
        elif e.function is not None and not hand_off and e.target not in needs_extra:
            out.append(f"{where} imports {e.target} inside a function: import it at the top")
    for t in third_party:
        if t.function is None and t.name not in allowed and t.source not in needs_extra:
            out.append(f"{t.source} line {t.line} imports {t.name} at the top: an optional "
                       "extra is imported inside the function that needs it")
    cycle = find_cycle(modules, [e for e in edges if (e.source, e.function, e.target)
                                 not in hand_offs])
    if cycle:
        out.append("import cycle: " + " -> ".join(cycle))
    return out


def find_cycle(modules, edges) -> list:
    """One cycle of the graph as [a, b, ..., a], or [] when there is none."""
    graph = {m: set() for m in modules}
    for e in edges:
        if e.source != e.target:
            graph.setdefault(e.source, set()).add(e.target)
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


# --- glassnet itself --------------------------------------------------------------------------

def test_glassnet_imports_point_down_the_layers_without_cycles():
    modules, edges, third_party = read_graph(PACKAGE, "glassnet")
    assert len(modules) > 30 and len(edges) > 100         # the reader found the package
    found = problems(modules, edges, third_party, LAYERS, HAND_OFFS, NEEDS_EXTRA)
    assert not found, "\n".join(found)


def test_every_declared_hand_off_exists_and_is_commented():
    """A hand-off left in the table after its import is gone would allow a new one silently."""
    _, edges, _ = read_graph(PACKAGE, "glassnet")
    present = {(e.source, e.function, e.target): e for e in edges}
    for hand_off in HAND_OFFS:
        assert hand_off in present, f"{hand_off} is declared but not in the code"
        assert present[hand_off].commented


def test_the_training_loop_does_not_reach_the_doctor_or_the_edges():
    """The loop takes the divergence explainer as a hook; nothing it imports leads up."""
    modules, edges, _ = read_graph(PACKAGE, "glassnet")
    graph = {}
    for e in edges:
        if e.function is None:
            graph.setdefault(e.source, set()).add(e.target)
    reached, todo = set(), ["glassnet.training"]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in reached:
                reached.add(nxt)
                todo.append(nxt)
    assert not {m for m in reached if m.startswith(("glassnet.doctor", "glassnet.sklearn",
                                                    "glassnet.cli", "glassnet.study"))}


def test_docs_architecture_lists_the_same_layers():
    """docs/architecture.md's table of layers is this file's LAYERS, module for module."""
    import re
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| ")][1:len(LAYERS) + 1]
    assert [row.split("|")[1].strip() for row in rows] == [name for name, _ in LAYERS]
    for row, (name, members) in zip(rows, LAYERS):
        listed = {m.removeprefix("glassnet/").removesuffix(".py").rstrip("/")
                  for m in re.findall(r"`([\w/.]+(?:\.py|/))`", row.split("|")[2])}
        assert listed == members, (name, listed ^ members)


# --- the checker can fail ---------------------------------------------------------------------

def _package(tmp_path, files: dict) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


_TOY_LAYERS = [("low", {"__init__", "maths"}), ("middle", {"loop"}), ("high", {"edge"})]


def _check(root, hand_offs=frozenset(), needs_extra=frozenset()):
    modules, edges, third_party = read_graph(root, "pkg")
    return problems(modules, edges, third_party, _TOY_LAYERS, hand_offs, needs_extra)


def test_the_checker_passes_a_clean_package(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "", "maths.py": "import numpy as np\n",
        "loop.py": "from . import maths\nfrom .maths import np\n",
        "edge.py": "from .loop import maths\n\ndef plot():\n    import matplotlib\n"})
    assert _check(root) == []


@pytest.mark.parametrize("files,expected", [
    # an upward import at the top
    ({"maths.py": "from .loop import x\n", "loop.py": "x = 1\n"},
     "pkg.maths line 1 imports pkg.loop from a higher layer"),
    # an upward import hidden in a function
    ({"maths.py": "def f():\n    from . import edge\n", "edge.py": ""},
     "pkg.maths line 2 (in f) imports pkg.edge from a higher layer"),
    # a sideways import made lazily
    ({"loop.py": "def f():\n    from .maths import y\n", "maths.py": "y = 2\n"},
     "pkg.loop line 2 (in f) imports pkg.maths inside a function"),
    # a cycle inside one layer
    ({"maths.py": "from . import stats\n", "stats.py": "from . import maths\n"},
     "import cycle: pkg.maths -> pkg.stats -> pkg.maths"),
    # a third-party extra at the top
    ({"loop.py": "import pandas as pd\n"},
     "pkg.loop line 1 imports pandas at the top"),
    # a module with no layer
    ({"extra.py": ""}, "pkg.extra has no layer"),
])
def test_the_checker_finds_each_broken_rule(tmp_path, files, expected):
    files = {"__init__.py": "", **files}
    if "stats.py" in files:        # give the toy stats module a layer, so only the cycle counts
        layers = [("low", {"__init__", "maths", "stats"})]
        modules, edges, third = read_graph(_package(tmp_path, files), "pkg")
        found = problems(modules, edges, third, layers, set(), set())
    else:
        found = _check(_package(tmp_path, files))
    assert any(p.startswith(expected) for p in found), found


def test_a_hand_off_is_allowed_only_where_declared_and_commented(tmp_path):
    upward = "class Net:\n    def fit(self):\n        {comment}from .loop import run\n"
    root = _package(tmp_path, {"__init__.py": "", "loop.py": "from .maths import Net\n",
                               "maths.py": upward.format(comment="")})
    declared = {("pkg.maths", "Net.fit", "pkg.loop")}
    assert any("higher layer" in p for p in _check(root))              # not declared
    assert any("needs a comment" in p for p in _check(root, declared))  # declared, bare
    (root / "maths.py").write_text(
        upward.format(comment="# the loop sits above: a deliberate hand-off\n        "))
    assert _check(root, declared) == []                                 # declared, commented
