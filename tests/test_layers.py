"""The import graph: each module imports only its own layer or those below, no cycle, no stage imports another."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "aelat"
# Top to bottom (STYLE.md): the CLI; what calls the pipeline; the pipeline; the stages (and the
# report and summary they feed); what the report and summary draw on (the explorer, the Findings); the
# libraries the stages use; the foundation every layer shares.
LAYERS = [
    {"aelat.cli"},
    {"aelat.api", "aelat.sweep", "aelat.slurm"},
    {"aelat.pipeline"},
    {"aelat.stages", "aelat.report", "aelat.report_analysis", "aelat.summarize", "aelat.export"},
    {"aelat.explorer", "aelat.findings", "aelat.sweep_findings"},
    {"aelat.data", "aelat.models", "aelat.metrics", "aelat.embedders", "aelat.plots", "aelat.baselines"},
    {"aelat", "aelat.errors", "aelat.labels", "aelat.schema", "aelat.config", "aelat.artifacts", "aelat.runtime",
     "aelat.locking", "aelat.content_store", "aelat.score_cache", "aelat.sampling", "aelat.background",
     "aelat.umap_import", "aelat.reading"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The aelat modules ``path`` imports anywhere (also inside functions), but for type checking only."""
    found = set()
    for node in walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in modules}


def walk(node: ast.AST):
    """ast.walk, skipping ``if TYPE_CHECKING:`` blocks."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not (isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING"):
            yield from walk(child)


def layer(module: str) -> int:
    for index, members in enumerate(LAYERS):
        if any(module == m or module.startswith(f"{m}.") for m in members if m != "aelat") or module in members:
            return index
    raise AssertionError(f"{module} is in no layer; add it to LAYERS")


GRAPH = {module_name(path): imports(path) - {module_name(path)} for path in PACKAGE.rglob("*.py")}


def test_modules_import_only_their_layer_or_below():
    upward = [(a, b) for a, targets in GRAPH.items() for b in targets if layer(b) < layer(a)]
    assert not upward, f"imports of a higher layer: {upward}"


def test_no_import_cycle():
    done, active = set(), []

    def visit(module):
        if module in active:
            raise AssertionError(f"import cycle: {' -> '.join(active[active.index(module):] + [module])}")
        if module in done:
            return
        active.append(module)
        for target in GRAPH.get(module, ()):
            if target != "aelat":  # every module imports the package itself first
                visit(target)
        active.pop()
        done.add(module)

    for module in GRAPH:
        visit(module)


def test_no_stage_imports_another_stage():
    stages = {module_name(p) for p in (PACKAGE / "stages").glob("*.py") if "\ndef run(" in p.read_text()}
    crossing = [(a, b) for a in stages for b in GRAPH[a] if b in stages]
    assert not crossing, crossing
