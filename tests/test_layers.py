"""The import graph of the package, read from the source (every import: ``from … import``, plain ``import``,
``importlib.import_module("safemix…")`` with a literal name, also those inside functions; only ``if TYPE_CHECKING:``
blocks are left out): no circle between modules, and no module imports from a layer above its own. Importing
``a.b.c`` runs the packages ``a`` and ``a.b`` first, so it imports their ``__init__`` too. The layers, lowest first,
by module prefix (the longest matching prefix decides)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "safemix"
LAYERS = (
    ("core", ("safemix", "safemix.errors", "safemix.fileio", "safemix.secrets", "safemix.stats", "safemix.store",
              "safemix.progress", "safemix.formats", "safemix.artifacts", "safemix.markers", "safemix.lock",
              "safemix.parse", "safemix.plugins")),
    ("data and models", ("safemix.data", "safemix.models")),
    ("stages", ("safemix.train", "safemix.generate", "safemix.judge", "safemix.capability", "safemix.stage",
                "safemix.metrics")),
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
            if id(node) in skip:
                continue
            for name in _imported(node, package, mods):
                # the packages above it run first (their __init__), up to but not including the package itself
                while True:
                    if name != m and not m.startswith(name + "."):
                        graph[m].add(name)
                    if "." not in name or name.rsplit(".", 1)[0] == "safemix":
                        break
                    name = name.rsplit(".", 1)[0]
    return graph


def _imported(node, package: str, mods) -> list[str]:
    """The safemix modules an import statement (or a literal importlib.import_module call) loads."""
    targets: list[tuple[str, list[str]]] = []
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
            targets.append((".".join(base + ([node.module] if node.module else [])), [a.name for a in node.names]))
        elif (node.module or "").startswith("safemix"):
            targets.append((node.module, [a.name for a in node.names]))
    elif isinstance(node, ast.Import):
        targets += [(a.name, []) for a in node.names if a.name.split(".")[0] == "safemix"]
    elif (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module") and node.args
          and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith("safemix")):
        targets.append((node.args[0].value, []))
    out = []
    for target, names in targets:
        for alias in names or [None]:  # ``from . import mlflow`` imports the module safemix.track.mlflow
            name = f"{target}.{alias}" if alias and f"{target}.{alias}" in mods else target
            while name not in mods and "." in name:
                name = name.rsplit(".", 1)[0]
            out.append(name)
    return out


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
    assert layer("safemix.track.sweep") > layer("safemix.track.base") and layer("safemix.parse") == 0


def test_every_kind_of_import_is_read(tmp_path):
    """A plain import, an import inside a function, an importlib call and the package a submodule runs are edges."""
    tree = ast.parse("import safemix.run.runner\ndef f():\n    from ..data import load\n"
                     "importlib.import_module('safemix.report')\n")
    mods = _modules()
    found = {n for node in ast.walk(tree) for n in _imported(node, "safemix.judge", mods)}
    assert found == {"safemix.run.runner", "safemix.data.load", "safemix.report"}
    graph = import_graph()
    assert "safemix.data" not in graph["safemix.artifacts"]  # the core reads its files with safemix.parse
    assert "safemix.judge" in graph["safemix.judge.guards"] or "safemix.judge.base" in graph["safemix.judge.guards"]
