"""Imports run one way: front ends → web → flows → delivery → emails → domain.

Nothing below imports anything above it, not even lazily inside a function,
and no module imports itself back through others (docs of the house style:
"Shape of the package"). Read from the source with ``ast``, so an import
that only runs on some path counts as much as one at the top of a module.
"""

import ast
from itertools import pairwise
from pathlib import Path

import django_verified_email

PACKAGE = "django_verified_email"
ROOT = Path(django_verified_email.__file__).parent

#: Highest first. A module belongs to the layer of the longest name it is or
#: sits under; any module not listed is domain (models, tokens, codes,
#: addresses, throttle, conf, exceptions, signals...): the lowest, which may
#: import only its own layer.
LAYERS = [
    (
        "front end",
        {
            "admin",
            "api",
            "apps",
            "celery_tasks",
            "checks",
            "forms",
            "management",
            "tasks",
            "urls",
            "views",
        },
    ),
    ("web", {"web", "sessions", "middleware"}),
    ("flows", {"flows"}),
    ("delivery", {"delivery"}),
    ("emails", {"emails", "rendering"}),
]
DOMAIN = "domain"
RANK = {name: rank for rank, (name, _) in enumerate(reversed([*LAYERS, (DOMAIN, set())]))}


def module_names():
    """Every module of the package, by dotted name, with its file and whether it is a package."""
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        modules[".".join(parts)] = (path, is_package)
    return modules


MODULES = module_names()


def imported(module, is_package, node):
    """The package's modules an ``import`` node names (a name from a module is that module)."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            source = ".".join([*base, node.module] if node.module else base)
        else:
            source = node.module or ""
        targets = [f"{source}.{alias.name}" for alias in node.names]
        targets = [target if target in MODULES else source for target in targets]
    found = []
    for target in targets:
        if target != PACKAGE and not target.startswith(PACKAGE + "."):
            continue
        while target not in MODULES:
            target = target.rpartition(".")[0]
        found.append(target)
    return found


def import_graph():
    """{module: {imported module: its first line importing it}}, for every import anywhere."""
    graph = {}
    for module, (path, is_package) in MODULES.items():
        edges = graph.setdefault(module, {})
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in imported(module, is_package, node):
                    if target != module:
                        edges[target] = min(edges.get(target, node.lineno), node.lineno)
    return graph


GRAPH = import_graph()


def layer(module):
    parts = module.split(".")[1:]
    for name, tops in LAYERS:
        if any(".".join(parts[:depth]) in tops for depth in range(1, len(parts) + 1)):
            return name
    return DOMAIN


def where(module, target):
    path = MODULES[module][0].relative_to(ROOT.parent.parent)
    return f"{path}:{GRAPH[module][target]} ({module} imports {target})"


def test_the_graph_sees_imports_at_any_depth():
    # The walk itself: a module-level import, a relative one, one in a function.
    assert f"{PACKAGE}.delivery" in GRAPH[f"{PACKAGE}.flows.change"]
    assert f"{PACKAGE}.codes" in GRAPH[f"{PACKAGE}.flows.codes"]
    assert f"{PACKAGE}.codes" in GRAPH[f"{PACKAGE}.checks"]  # inside a function
    assert layer(f"{PACKAGE}.api.views") == "front end"
    assert layer(f"{PACKAGE}.flows._common") == "flows"
    assert layer(f"{PACKAGE}.tokens") == DOMAIN


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{where(module, target)}: {layer(module)} must not import {layer(target)}"
        for module, targets in GRAPH.items()
        for target in targets
        if RANK[layer(target)] > RANK[layer(module)]
    ]
    assert not upward, "Imports that go up a layer:\n" + "\n".join(upward)


def test_the_imports_have_no_cycle():
    cycles = []
    state = {}  # module: "open" while on the path, "done" once all it reaches is seen
    path = []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                cycle = [*path[path.index(target) :], target]
                cycles.append(
                    " -> ".join(cycle)
                    + "\n    "
                    + "\n    ".join(where(a, b) for a, b in pairwise(cycle))
                )
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert not cycles, "Import cycles:\n" + "\n".join(cycles)
