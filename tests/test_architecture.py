"""The layers of docs/architecture.md, checked: no upward import, no stage's internals used by
another stage, no import cycle between modules.

Every `import` and `from ... import` in src/sciinstruct counts, including the ones inside
functions and under `TYPE_CHECKING`: a lazy upward import is still an upward dependency.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "sciinstruct"

# Lowest first; a unit may import units of lower layers only (and itself). A unit is a top-level
# module or package of sciinstruct. This table is the one in docs/architecture.md.
LAYERS: list[tuple[str, ...]] = [
    ("sciinstruct", "errors"),  # the package root holds only __version__
    ("log", "redact", "rendering", "settings", "embedded_model"),
    ("jsonl", "records", "runlock", "scratch"),
    ("rows", "rundir", "prompt_templates"),
    ("llm", "sciformats"),
    ("generators",),
    ("grading", "distributed"),
    ("benchmarks",),  # definitions and the one loader: used by curate and evaluate
    # the stages, in the order of the flow: a stage may use an earlier stage's public API
    ("ingest",),
    ("annotate",),
    ("critique", "shards"),  # shards: annotate past one driver
    ("curate",),
    ("export",),
    ("train",),
    ("evaluate", "integrations"),
    ("report", "view"),
    ("recipe", "stage_runner"),
    ("flow",),
    ("cli",),
]
STAGES = {"ingest", "annotate", "critique", "curate", "export", "train", "evaluate", "report"}
LEVEL = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    base = SRC.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path: Path) -> set[str]:
    """The sciinstruct modules `path` imports (`from pkg import mod` counts as `pkg.mod`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "sciinstruct"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "sciinstruct":
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if is_module(sub) else node.module)
    return found


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in sorted(PACKAGE.rglob("*.py")):
        edges[module_name(path)] |= imports_of(path) - {module_name(path)}
    return edges


def layering_problems(edges: dict[str, set[str]]) -> list[str]:
    problems = []
    for source, targets in sorted(edges.items()):
        a = unit_of(source)
        for target in sorted(targets):
            b = unit_of(target)
            if a == b:
                continue
            if a not in LEVEL or b not in LEVEL:
                problems.append(f"{source} -> {target}: {a if a not in LEVEL else b} has no layer")
            elif LEVEL[b] >= LEVEL[a]:
                problems.append(f"{source} -> {target}: {b} is not below {a}")
            elif b in STAGES and a in STAGES and target != f"sciinstruct.{b}":
                problems.append(f"{source} -> {target}: another stage's internals")
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of more than one module (Tarjan), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_every_unit_has_a_layer() -> None:
    units = {unit_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert sorted(units - set(LEVEL)) == []


def test_no_upward_import_and_no_stage_internals() -> None:
    assert layering_problems(graph()) == []


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_architecture_page_lists_the_same_layers() -> None:
    page = (SRC.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    for units in LAYERS:
        for unit in units:
            if unit != "sciinstruct":
                assert f"`{unit}`" in page, unit


@pytest.mark.parametrize(
    ("edges", "problem"),
    [
        ({"sciinstruct.rundir": {"sciinstruct.llm.openai_compat"}}, "llm is not below rundir"),
        (
            {"sciinstruct.critique.math_critique": {"sciinstruct.annotate.prompts"}},
            "another stage's internals",
        ),
        ({"sciinstruct.curate.pipeline": {"sciinstruct.export"}}, "export is not below curate"),
    ],
)
def test_the_check_fails_on_what_it_forbids(edges, problem) -> None:
    [found] = layering_problems(edges)
    assert problem in found
    loop = {"sciinstruct.a.x": {"sciinstruct.a.y"}, "sciinstruct.a.y": {"sciinstruct.a.x"}}
    assert cycles(loop) == [["sciinstruct.a.x", "sciinstruct.a.y"]]


def test_the_readme_layout_table_names_every_folder_and_module() -> None:
    readme = (SRC.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    entries = {
        p.name + ("/" if p.is_dir() else "")
        for p in PACKAGE.iterdir()
        if p.name not in ("__init__.py", "__pycache__")
    }
    assert sorted(e for e in entries if f"`{e}`" not in table) == []
