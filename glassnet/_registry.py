"""One lookup behind glassnet's named things: activations, losses, initializers, optimizers.

A :class:`Registry` maps canonical names to entries (objects or factories), follows
aliases case-insensitively, checks the keyword arguments a factory is built with, and
refuses an unknown name with an error that lists the valid ones (torch: "please use one
of {valid_modes}").  Each registry module keeps its own table and wording; this module
keeps the rules.

>>> r = Registry("colour", {"red": lambda shade=1: ("red", shade)}, {"rouge": "red"})
>>> r.build("ROUGE", {"shade": 2})
('red', 2)
>>> r.build("blue", {})
Traceback (most recent call last):
...
glassnet._validation.GlassnetError: Unknown colour 'blue'. Valid names: ['red'].
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Iterator, Mapping

from ._validation import GlassnetError


class Registry(Mapping):
    """Entries by canonical name, with aliases.

    Parameters
    ----------
    kind : what an entry is, in messages ("activation", "init", "loss", ...)
    entries : canonical name -> entry (for :meth:`build`, a factory taking keywords)
    aliases : other name -> canonical name (looked up in lower case)
    unknown : the message for an unknown key, formatted with ``key`` (the value given),
        ``names`` (the sorted valid names) and ``aliases`` (the sorted aliases); by
        default "Unknown {kind} {key!r}. Valid names: {names}."
    """

    def __init__(self, kind: str, entries: Mapping[str, Any],
                 aliases: Mapping[str, str] | None = None, *, unknown: str | None = None):
        self.kind = kind
        self._entries = dict(entries)
        self.aliases = dict(aliases or {})
        self._unknown = unknown or f"Unknown {kind} {{key!r}}. Valid names: {{names}}."
        for alias, name in self.aliases.items():
            assert name in self._entries, f"alias {alias!r} points to unknown {name!r}"

    # the Mapping protocol: canonical names only
    def __getitem__(self, name: str) -> Any:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def names(self) -> tuple:
        """The canonical names, in registration order."""
        return tuple(self._entries)

    def canonical(self, key) -> str | None:
        """The canonical name ``key`` stands for (case-insensitive, aliases followed), or None."""
        if not isinstance(key, str):
            return None
        name = self.aliases.get(key.lower(), key.lower())
        return name if name in self._entries else None

    def unknown_message(self, key) -> str:
        """The error text for a key that names nothing: it lists the valid names."""
        return self._unknown.format(key=key, names=sorted(self._entries),
                                    aliases=sorted(self.aliases))

    def lookup(self, key) -> tuple[str, Any]:
        """``(canonical name, entry)`` for ``key``; a GlassnetError listing the valid names
        when it names nothing."""
        name = self.canonical(key)
        if name is None:
            raise GlassnetError(self.unknown_message(key))
        return name, self._entries[name]

    def build(self, key, params: Mapping[str, Any]) -> Any:
        """The entry for ``key`` called with ``params``, after :meth:`check_keywords`."""
        name, factory = self.lookup(key)
        self.check_keywords(name, factory, params)
        return factory(**params)

    def check_keywords(self, name: str, factory: Callable, params: Mapping[str, Any]) -> None:
        """Refuse a keyword ``factory`` does not take, naming the ones it does."""
        accepted = list(inspect.signature(factory).parameters)
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            takes = f"its parameters are {accepted}" if accepted else "it takes no parameters"
            raise GlassnetError(f"{self.kind} {name!r} has no parameter {unknown[0]!r}; "
                                f"{takes}.")
