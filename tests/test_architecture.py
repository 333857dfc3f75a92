"""The package's shape (docs/architecture.md): no import cycles, nothing importing upward, flows that ask the
backend registry instead of importing a backend's insides, and modules of a readable size.

Every import counts, also one inside a function: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "garnet_hls"

# Layers, from the ground up: a module may import its own layer and those below it, never one above.
LAYERS = [
    ("ground", ["garnet_hls", "garnet_hls.errors", "garnet_hls.paths", "garnet_hls.resources", "garnet_hls._env",
                "garnet_hls._keras_choice"]),
    ("core", ["garnet_hls.core"]),
    ("layers, config", ["garnet_hls.layers", "garnet_hls.keras3", "garnet_hls.config"]),
    ("models, project", ["garnet_hls.models", "garnet_hls.project"]),
    ("physics", ["garnet_hls.physics"]),
    ("toolchain", ["garnet_hls.toolchain"]),
    ("estimate", ["garnet_hls.estimate"]),
    ("backends", ["garnet_hls.backends"]),
    ("flows", ["garnet_hls.flows"]),
    ("entry", ["garnet_hls.cli", "garnet_hls.__main__"]),
]
# Deliberate exceptions, each with its reason.
ALLOWED_UPWARD = {
    # `garnet_hls.GarNet` etc. are imported lazily on first use, and the layers are registered with Keras
    # when tf_keras loads: the package's front door names the layers without depending on them at import.
    ("garnet_hls", "garnet_hls.layers"),
    ("garnet_hls._env", "garnet_hls.layers"),
}


def modules() -> dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        parts = f.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


MODULES = modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str) -> set[str]:
    """The package modules ``name`` imports (at any depth of its code)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if MODULES[name].name == "__init__.py" else name.split(".")[:-1]
                pkg = pkg[:len(pkg) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            if t.split(".")[0] != "garnet_hls":
                continue
            r = _resolve(t)
            if r and r != name:
                out.add(r)
    # "from garnet_hls.x import y" also lists "garnet_hls.x"; a from-import of a name resolves to its module
    return out


GRAPH = {m: imports_of(m) for m in MODULES}


def layer_of(name: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (name == p or name.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    assert rank is not None, f"{name} is in no layer of docs/architecture.md: add it to LAYERS"
    return rank


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):  # iterative enough for ~100 modules
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def _graph_without_package_parents() -> dict[str, set[str]]:
    """A package's ``__init__`` is imported with any of its modules; ``from garnet_hls.x import y`` naming the
    package ``garnet_hls.x`` is that, not a dependency on the package's own code, unless the name is there."""
    g = {}
    for m, deps in GRAPH.items():
        g[m] = {d for d in deps if not (MODULES[d].name == "__init__.py" and any(o.startswith(d + ".") for o in deps)
                                        and not _names_from_init(m, d))}
    return g


def _names_from_init(m: str, pkg: str) -> bool:
    tree = ast.parse(MODULES[m].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == pkg:
            if any(f"{pkg}.{a.name}" not in MODULES for a in node.names):
                return True
        if isinstance(node, ast.Import) and any(a.name == pkg for a in node.names):
            return True
    return False


def test_every_module_has_a_layer():
    for m in MODULES:
        layer_of(m)


def test_no_import_cycles():
    cycles = [sorted(c) for c in strongly_connected(_graph_without_package_parents()) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_strongly_connected_finds_a_cycle():
    """The cycle check can fail: a made-up graph with a cycle is caught."""
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert [sorted(c) for c in strongly_connected(g) if len(c) > 1] == [["a", "b", "c"]]


def test_nothing_imports_upward():
    bad = []
    for m, deps in _graph_without_package_parents().items():
        for d in deps:
            if layer_of(d) > layer_of(m) and (m, d) not in ALLOWED_UPWARD:
                bad.append(f"{m} ({LAYERS[layer_of(m)][0]}) imports {d} ({LAYERS[layer_of(d)][0]})")
    assert not bad, "upward imports:\n" + "\n".join(sorted(bad))


def test_flows_ask_the_registry():
    """A command never imports a backend's insides: only garnet_hls.backends.registry."""
    bad = [f"{m} imports {d}" for m, deps in GRAPH.items() if m.startswith("garnet_hls.flows")
           for d in deps if d.startswith("garnet_hls.backends") and d not in ("garnet_hls.backends",
                                                                                "garnet_hls.backends.registry")]
    assert not bad, "\n".join(sorted(bad))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    """architecture.md: a module over ~800 lines is usually two things that want their own names."""
    n = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert n <= 900, f"{name} has {n} lines"
