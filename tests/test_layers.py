"""The import graph of the package, read from the source (every import, also those inside functions; only
``if TYPE_CHECKING:`` blocks are left out): no circle between modules, and no module imports from a layer
above its own. The layers, lowest first, by module prefix (the longest matching prefix decides)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "safemix"
LAYERS = (
    ("core", ("safemix", "safemix.errors", "safemix.fileio", "safemix.secrets", "safemix.stats", "safemix.store",
              "safemix.progress", "safemix.formats", "safemix.artifacts", "safemix.markers", "safemix.lock",
              "safemix.data.parse", "safemix.plugins")),
    ("data and models", ("safemix.data", "safemix.models")),
    ("stages", ("safemix.train", "safemix.generate", "safemix.judge", "safemix.capability")),
    ("config and plug-ins", ("safemix.config", "safemix.track", "safemix.executors")),
    ("labels", ("safemix.label",)),
    ("results and outputs", ("safemix.report", "safemix.track.sweep")),
    ("pipeline", ("safemix.run",)),
    ("command line", ("safemix.cli", "safemix.__main__")),
)


def _modules() -> dict[str, Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        parts = list(p.relative_to(SRC.parent).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        tree = ast.parse(p.read_text(encoding="utf-8"))
        skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                for n in ast.walk(node)}
        package = m if p.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(tree):
            if id(node) in skip or not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("safemix"):
                target = node.module
            else:
                continue
            for alias in node.names:  # ``from . import mlflow`` imports the module safemix.track.mlflow
                name = f"{target}.{alias.name}" if f"{target}.{alias.name}" in mods else target
                while name not in mods and "." in name:
                    name = name.rsplit(".", 1)[0]
                if name != m:
                    graph[m].add(name)
    return graph


def layer(module: str) -> int:
    best = max(((len(prefix), i) for i, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
                if module == prefix or module.startswith(prefix + ".")), default=None)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best[1]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
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
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    assert cycles(import_graph()) == []


def test_no_import_from_a_higher_layer():
    graph = import_graph()
    upward = sorted(f"{m} ({LAYERS[layer(m)][0]}) imports {t} ({LAYERS[layer(t)][0]})"
                    for m, targets in graph.items() for t in targets if layer(t) > layer(m))
    assert upward == []


def test_the_checks_can_fail():
    """A circle and an upward import planted in a copy of the graph are found."""
    graph = {m: set(t) for m, t in import_graph().items()}
    graph["safemix.errors"].add("safemix.run.runner")
    assert any("safemix.errors" in c for c in cycles(graph))
    assert layer("safemix.run.runner") > layer("safemix.errors")
    assert layer("safemix.track.sweep") > layer("safemix.track.base") and layer("safemix.data.parse") == 0
