"""A small JSON schema checker: model-file metadata is validated once, on load, with it.

Not JSON Schema (the core depends on NumPy alone): a handful of node types, each a
``check(value, where)`` that raises :class:`SchemaError` naming the key path
(``metadata.classes[2]``), what was expected and what came.

>>> schema = Dict({"task": Enum("classification", "regression")}, required=["task"])
>>> schema.check({"task": "clustering"}, "metadata")
Traceback (most recent call last):
...
glassnet._schema.SchemaError: metadata.task is 'clustering' (a string); expected one of 'classification', 'regression'.
"""
from __future__ import annotations

import math
from typing import Any

from ._validation import GlassnetError, echo

#: JSON nested deeper than this is refused before anything walks it (a hostile file may
#: nest 100,000 levels; Python's recursion would give out long before)
MAX_DEPTH = 64


class SchemaError(GlassnetError):
    """A value in a JSON document that does not follow its schema."""


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Node:
    """A schema node: ``expected`` says in words what it accepts."""

    expected = "a value"

    def check(self, value, where: str) -> None:
        if not self.accepts(value):
            self.fail(value, where)

    def accepts(self, value) -> bool:
        return True

    def fail(self, value, where: str, expected: str | None = None):
        shown = echo(value, 80)
        raise SchemaError(f"{where} is {shown} ({_kind(value)}); expected "
                          f"{expected or self.expected}.")


class Anything(Node):
    pass


class Null(Node):
    expected = "null"

    def accepts(self, value):
        return value is None


class Bool(Node):
    expected = "true or false"

    def accepts(self, value):
        return isinstance(value, bool)


class Str(Node):
    def __init__(self, nonempty: bool = False):
        self.nonempty = nonempty
        self.expected = "a non-empty string" if nonempty else "a string"

    def accepts(self, value):
        return isinstance(value, str) and (bool(value) or not self.nonempty)


class Int(Node):
    def __init__(self, minimum: int | None = None):
        self.minimum = minimum
        self.expected = "an integer" + ("" if minimum is None else f" >= {minimum}")

    def accepts(self, value):
        return (isinstance(value, int) and not isinstance(value, bool)
                and (self.minimum is None or value >= self.minimum))


class Num(Node):
    """A real number; ``finite`` refuses NaN and inf, ``positive`` asks for > 0."""

    def __init__(self, finite: bool = True, positive: bool = False):
        self.finite, self.positive = finite, positive
        self.expected = ("a " + ("finite " if finite else "")
                         + ("positive " if positive else "") + "number")

    def accepts(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        try:
            x = float(value)
        except OverflowError:        # an int with 400 digits
            return False
        return (not self.finite or math.isfinite(x)) and (not self.positive or x > 0)


class Enum(Node):
    def __init__(self, *values):
        self.values = values
        self.expected = "one of " + ", ".join(repr(v) for v in values)

    def accepts(self, value):
        return isinstance(value, str) and value in self.values


class OneOf(Node):
    """The first alternative that accepts the value's kind checks it."""

    def __init__(self, *options: Node, expected: str | None = None):
        self.options = options
        self.expected = expected or " or ".join(o.expected for o in options)

    def check(self, value, where):
        errors = []
        for option in self.options:
            try:
                option.check(value, where)
                return
            except SchemaError as exc:
                errors.append(exc)
        # an option of the value's own kind that failed further in names the real problem
        inner = [e for e in errors if not str(e).startswith(f"{where} is ")]
        if len(errors) == 1 or inner:
            raise (inner or errors)[0]
        self.fail(value, where)


def Optional(node: Node) -> Node:       # noqa: N802 (reads like a type)
    return OneOf(Null(), node, expected=f"{node.expected} (or null)")


class List(Node):
    def __init__(self, items: Node, *, min_len: int = 0, length: int | None = None,
                 unique: bool = False):
        self.items, self.min_len, self.length, self.unique = items, min_len, length, unique
        self.expected = f"a list of {items.expected}" + (
            f" ({min_len} or more)" if min_len else "")

    def check(self, value, where):
        if not isinstance(value, list):
            self.fail(value, where)
        if len(value) < self.min_len:
            self.fail(value, where, f"{self.expected}, at least {self.min_len} of them")
        if self.length is not None and len(value) != self.length:
            raise SchemaError(f"{where} has {len(value)} entries; expected {self.length}.")
        for i, item in enumerate(value):
            self.items.check(item, f"{where}[{i}]")
        if self.unique:
            seen = set()
            for i, item in enumerate(value):
                key = (type(item).__name__, item) if not isinstance(item, float) or \
                    not item.is_integer() else ("int", int(item))
                if key in seen:
                    raise SchemaError(f"{where}[{i}] repeats {echo(item, 80)}; the entries "
                                      "must be distinct.")
                seen.add(key)


class Dict(Node):
    """An object with known ``fields`` (``required`` ones must be present); other keys are
    checked by ``rest`` (anything, by default)."""

    expected = "an object"

    def __init__(self, fields: dict[str, Node] | None = None, *, required=(),
                 rest: Node | None = None):
        self.fields, self.required, self.rest = dict(fields or {}), tuple(required), rest

    def check(self, value, where):
        if not isinstance(value, dict):
            self.fail(value, where)
        prefix = f"{where}." if where else ""
        for key in self.required:
            if key not in value:
                raise SchemaError(f"{prefix}{key} is missing; expected "
                                  f"{self.fields[key].expected}.")
        for key, item in value.items():
            node = self.fields.get(key, self.rest)
            if node is not None:
                node.check(item, f"{prefix}{echo(key, 60, as_text=True)}")


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply lists and objects nest in ``value`` (iteratively: no recursion to blow);
    stops counting at ``limit + 1``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            level += 1
            if level > deepest:
                deepest = level
                if deepest > limit:
                    return deepest
            stack.extend((v, level) for v in (item.values() if isinstance(item, dict) else item))
    return deepest
