"""The package's import graph has no cycle (module-level and function-local imports alike).

Every module under fuserank/ is parsed with `ast`; each `import` / `from ... import` anywhere in
it (a function body, an `if TYPE_CHECKING:` block) is an edge. Importing `a.b.c` runs the
`__init__` of `a` and `a.b` first, so it is an edge to those packages too, except to the
importer's own enclosing packages, which are always initialised before the importer runs (an
explicit `from a import x` that names an enclosing package still counts).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fuserank"


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package (packages by `__init__`)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def with_packages(name: str) -> list[str]:
    """`a.b.c` -> [`a`, `a.b`, `a.b.c`]: what importing it initialises, in order."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def imported(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """The package modules that module `name` (file `path`) imports anywhere in its body."""
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    enclosing = set(with_packages(name)[:-1])
    out: set[str] = set()

    def add(target: str, explicit: bool) -> None:
        for m in with_packages(target):
            if m not in mods or m == name:
                continue
            # an enclosing package is already being initialised; only a direct import of it counts
            if m in enclosing and not (explicit and m == target):
                continue
            out.add(m)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, True)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                if sub in mods:
                    add(sub, True)       # `from pkg import submodule`
                    add(module, False)
                else:
                    add(module, True)    # `from module import name`
    return out


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    mods = modules(root)
    return {name: imported(name, path, mods) for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state:
                found = visit(w)
                if found:
                    return found
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state:
            found = visit(v)
            if found:
                return found
    return None


def test_the_checker_sees_local_relative_and_package_imports(tmp_path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .leaf import x\n")
    (pkg / "sub" / "leaf.py").write_text("x = 1\n")
    (pkg / "top.py").write_text("def f():\n    from .sub.leaf import x\n    return x\n")
    (pkg / "other.py").write_text("from pkg import top\n")
    graph = import_graph(pkg)
    assert graph["pkg.top"] == {"pkg.sub", "pkg.sub.leaf"}
    assert graph["pkg.sub"] == {"pkg.sub.leaf"}     # the enclosing package is not an edge
    assert graph["pkg.other"] == {"pkg.top"}      # `from pkg import top`: the submodule
    assert find_cycle(graph) is None
    (pkg / "sub" / "leaf.py").write_text("def g():\n    import pkg.top\n")
    cycle = find_cycle(import_graph(pkg))
    assert cycle[0] == cycle[-1] and set(cycle) == {"pkg.sub", "pkg.sub.leaf", "pkg.top"}


def test_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 40
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
