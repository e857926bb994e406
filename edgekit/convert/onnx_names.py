"""Stable names for the constants and nodes tf2onnx generates.

tf2onnx numbers the tensors and nodes it creates (`const_fold_opt__56`, `Transpose__49`) in an order
that changes from run to run, and which of two equal constants survives deduplication changes with
it. Renaming every generated name by its first use in the (stable) node order makes the same model
give the same bytes.
"""

from __future__ import annotations

import re
from typing import Any

_GENERATED = re.compile(r"__\d+")


def canonical_names(proto: Any) -> Any:
    """Rename generated tensor and node names in place; returns the model."""
    graph = proto.graph
    if any(attr.type in (attr.GRAPH, attr.GRAPHS) for node in graph.node for attr in node.attribute):
        return proto  # subgraphs may refer to outer names: leave such models alone
    fixed = {v.name for v in graph.input} | {v.name for v in graph.output}
    constants = {t.name for t in graph.initializer}
    renamed: dict[str, str] = {}
    first_use: dict[str, tuple[int, int]] = {}

    def rename(name: str) -> str:
        if not name or name in fixed or not _GENERATED.search(name):
            return name
        if name not in renamed:
            # Equal constants are merged under whichever name came first: drop the name's stem too.
            stem = "const" if name in constants else _GENERATED.sub("", name)
            renamed[name] = f"{stem}__{len(renamed)}"
        return renamed[name]

    for position, node in enumerate(graph.node):
        for i, name in enumerate(node.input):
            node.input[i] = rename(name)
            first_use.setdefault(node.input[i], (position, i))
        for i, name in enumerate(node.output):
            node.output[i] = rename(name)
        if _GENERATED.search(node.name):
            node.name = f"{_GENERATED.sub('', node.name)}__n{position}"
    unused = (len(graph.node), 0)
    for initializer in graph.initializer:
        initializer.name = rename(initializer.name)
    for info in graph.value_info:
        info.name = rename(info.name)
    initializers = sorted(graph.initializer, key=lambda t: (first_use.get(t.name, unused), t.name))
    copies = [type(t)() for t in initializers]
    for copy, original in zip(copies, initializers, strict=True):
        copy.CopyFrom(original)
    del graph.initializer[:]
    graph.initializer.extend(copies)
    return proto
