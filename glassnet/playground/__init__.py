"""``glassnet playground``: a page that trains a real glassnet network in front of you.

The server (:mod:`glassnet.playground.server`, needs the ``playground`` extra) trains a
:class:`glassnet.Network` with ``glassnet.partial_fit`` and sends every unit's output over
the input plane to the page, with the doctor's reading; the page only draws.
:mod:`~glassnet.playground.datasets` (NumPy only) rebuilds the page's data sets in your own
code.  See ``docs/playground.md``.
"""
