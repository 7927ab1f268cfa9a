"""The import graph keeps the layers of docs/architecture.md: no module imports a layer above its own, no
import cycle between modules, no private name imported across modules, and wlbench never imports the
reference baselines (they register through the entry point, like an outside method).

Every import counts, function-local ones included (a function-local import is how a cycle hides). The
check reads the source with ``ast``; it needs no list of files: a new module joins the layer of its package,
and a new top-level module or package must be given a layer here (the test names it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# docs/architecture.md, "Layers": bottom to top; a unit may import its own layer and those below
LAYERS: list[tuple[str, ...]] = [
    ("wlbench", "wlbench.errors", "wlbench.paths", "wlbench.atomic", "wlbench.hashing", "wlbench.interrupts",
     "wlbench.plotting", "wlbench.memory", "wlbench.tasks", "wlbench.threads"),                                   # infrastructure
    ("wlbench.metrics", "wlbench.features", "wlbench.distributions"),        # pure computation
    ("wlbench.recipes",),                                                    # what a dataset asks for
    ("wlbench.dataset",),                                                    # the stored dataset
    ("wlbench.soundbank",),
    ("wlbench.synth",),                                                      # plan -> render -> writer
    ("wlbench.submissions",),
    ("wlbench.scoring",),
    ("wlbench.export", "wlbench.desed"),                                     # the field's file formats
    ("wlbench.methods",),                                                    # protocol, registry, runs
    ("wlbench.training",),                                                   # the loop methods build on
    ("wlbench.experiments",),
    ("wlbench.leaderboard",),
    ("wlbench.demo",),
    ("wlbench.commands", "wlbench.cli"),
    # clients, never imported by wlbench: shared parts, the teacher-student core, one package per paper
    ("wlbench_baselines", "wlbench_baselines.common"),
    ("wlbench_baselines.teacher_student",),
    ("wlbench_baselines.dinkel2022", "wlbench_baselines.fonseca2020", "wlbench_baselines.park2019",
     "wlbench_baselines.turpault2019", "wlbench_baselines.turpault2020"),
]
# import name of each top-level folder (the repository's baselines/ installs as wlbench_baselines)
PACKAGES = {"wlbench": "wlbench", "baselines": "wlbench_baselines"}
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, name in PACKAGES.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = (name, *path.relative_to(ROOT / folder).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module of ``name`` (a module, or a name inside one); None outside wlbench/baselines."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import statement of ``module``."""
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[:len(module.split(".")) - node.level + (1 if is_package else 0)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            submodules = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in MODULES]
            if submodules and len(submodules) == len(node.names):
                out += [(sub, [], node.lineno) for sub in submodules]  # `from package import module`
            else:
                out.append((source, [a.name for a in node.names], node.lineno))
    return out


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _unit(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for source, _, _ in _imports(module, path):
            owner = _owner(source)
            if owner and owner != module:
                edges[module].add(owner)
    return edges


def test_every_unit_has_a_layer():
    missing = sorted({_unit(m) for m in MODULES} - set(RANK))
    assert not missing, f"give these a layer in LAYERS (and in docs/architecture.md): {missing}"


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for module, path in MODULES.items():
        for source, _, line in _imports(module, path):
            owner = _owner(source)
            if owner and RANK[_unit(owner)] > RANK[_unit(module)]:
                upward.append(f"{_shown(path)}:{line} imports {owner}")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycle():
    edges = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_name_is_imported_from_another_module():
    """Neither a private name (``from m import _x``) nor a private module (``import pkg._m``) is taken from
    outside its owner."""
    private = []
    for module, path in MODULES.items():
        for source, names, line in _imports(module, path):
            owner = _owner(source)
            taken = [n for n in names if _private(n)]
            if owner and owner != module and taken:
                private.append(f"{_shown(path)}:{line} takes {taken} from {owner}")
            if owner and _private(owner.rpartition(".")[2]) and owner.rpartition(".")[0] != module.rpartition(".")[0]:
                private.append(f"{_shown(path)}:{line} imports the private module {owner}")
    assert not private, "private names crossing modules:\n" + "\n".join(private)


@pytest.mark.parametrize("upward", [("wlbench.dataset.reader", "wlbench.scoring"),
                                    ("wlbench.metrics", "wlbench_baselines.common")])
def test_the_check_sees_an_upward_import(upward, monkeypatch, tmp_path):
    """The check is not vacuous: a module that imported a higher layer (even inside a function) is caught."""
    low, high = upward
    fake = tmp_path / "fake.py"
    fake.write_text(f"def f():\n    import {high}\n")
    monkeypatch.setitem(MODULES, f"{low}.fake_probe", fake)
    with pytest.raises(AssertionError, match="upward imports"):
        test_no_module_imports_a_layer_above_its_own()


def test_every_package_is_installed_under_its_import_name():
    """pyproject.toml lists every package (baselines/ mapped to wlbench_baselines): a new subpackage left out of
    the list would be missing from an installed wheel."""
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert setup["package-dir"] == {"wlbench_baselines": "baselines"}
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert sorted(packages) == sorted(setup["packages"])


def test_the_check_sees_a_cycle(monkeypatch, tmp_path):
    """Two modules of one layer importing each other (one inside a function) are a cycle."""
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("import wlbench.scoring.probe_b\n")
    b.write_text("def f():\n    from wlbench.scoring import probe_a\n")
    monkeypatch.setitem(MODULES, "wlbench.scoring.probe_a", a)
    monkeypatch.setitem(MODULES, "wlbench.scoring.probe_b", b)
    with pytest.raises(AssertionError, match="import cycles"):
        test_no_import_cycle()


@pytest.mark.parametrize("source", ["from wlbench.dataset.reader import _file_version\n",
                                    "import wlbench.metrics._probe_private\n"])
def test_the_check_sees_a_private_import(source, monkeypatch, tmp_path):
    fake, private = tmp_path / "fake.py", tmp_path / "private.py"
    fake.write_text(source)
    private.write_text("")
    monkeypatch.setitem(MODULES, "wlbench.scoring.probe", fake)
    monkeypatch.setitem(MODULES, "wlbench.metrics._probe_private", private)
    with pytest.raises(AssertionError, match="private"):
        test_no_private_name_is_imported_from_another_module()
