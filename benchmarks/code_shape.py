"""The shape of the package, measured: longest functions, largest modules, imports inside functions, import
cycles between modules and between packages, imports of another module's private names.

    python benchmarks/code_shape.py [--top 10] [--json out.json]

Static analysis of ``src/sac`` with :mod:`ast` (no import of the package). A module's imports are every
``import sac…`` / ``from sac… import`` anywhere in it (also inside functions): a cycle through a lazy import is
still a cycle in the design. ``TYPE_CHECKING`` blocks are ignored.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: str, is_pkg: bool):
        self.module, self.is_pkg = module, is_pkg
        self.imports: list[tuple[str, list[str], bool]] = []  # (target module, names, inside a function)
        self.functions: list[tuple[str, int]] = []
        self._depth = 0
        self._stack: list[str] = []

    def _resolve(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = self.module.split(".")
        base = base if self.is_pkg else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.name.split(".")[0] == "sac":
                self.imports.append((a.name, [], self._depth > 0))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        target = self._resolve(node)
        if target.split(".")[0] == "sac":
            self.imports.append((target, [a.name for a in node.names], self._depth > 0))

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._stack.append(node.name)
        self.functions.append((".".join(self._stack), node.end_lineno - node.lineno + 1))
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1
        self._stack.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._stack.append(node.name)
        self.generic_visit(node)
        self._stack.pop()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
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
            strong(v)
    return out


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def measure() -> dict:
    files = sorted((ROOT / "sac").rglob("*.py"))
    modules = {module_name(f): f for f in files}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    functions, sizes, lazy, private = [], [], 0, []
    for mod, f in modules.items():
        v = _Visitor(mod, f.name == "__init__.py")
        v.visit(ast.parse(f.read_text(), str(f)))
        sizes.append((mod, len(f.read_text().splitlines())))
        functions += [(f"{mod}:{name}", n) for name, n in v.functions]
        for target, names, inside in v.imports:
            lazy += inside
            # "from sac.x import y" where sac.x.y is a module: the edge goes to that module
            tgts = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules] or [target]
            for t in tgts:
                while t not in modules and "." in t:
                    t = t.rsplit(".", 1)[0]
                if t in modules and t != mod:
                    graph[mod].add(t)
            if target != mod:
                private += [f"{mod} ← {target}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
    pkg_graph: dict[str, set[str]] = {}
    for m, ts in graph.items():
        for t in ts:
            a, b = package_of(m), package_of(t)
            if a != b and not (a == "sac" or b == "sac"):
                pkg_graph.setdefault(a, set()).add(b)
    # a package's __init__ importing its own submodules is not a cycle of the design
    mod_graph = {m: {t for t in ts if not (m.count(".") < t.count(".") and t.startswith(m + "."))}
                 for m, ts in graph.items()}
    return {
        "functions": sorted(functions, key=lambda x: -x[1]),
        "modules": sorted(sizes, key=lambda x: -x[1]),
        "functions_over_60": sum(1 for _, n in functions if n > 60),
        "modules_over_400": sum(1 for _, n in sizes if n > 400),
        "imports_inside_functions": lazy,
        "module_cycles": _cycles(mod_graph),
        "package_cycles": _cycles(pkg_graph),
        "private_imports": private,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    m = measure()
    print(f"functions over 60 lines: {m['functions_over_60']}; modules over 400 lines: {m['modules_over_400']}; "
          f"imports of sac inside functions: {m['imports_inside_functions']}; module cycles: "
          f"{len(m['module_cycles'])}; package cycles: {len(m['package_cycles'])}; private names imported from other modules: "
          f"{len(m['private_imports'])}")
    print("\n| longest functions | lines |\n|---|---|")
    for name, n in m["functions"][: args.top]:
        print(f"| `{name}` | {n} |")
    print("\n| largest modules | lines |\n|---|---|")
    for name, n in m["modules"][: args.top]:
        print(f"| `{name}` | {n} |")
    for title, key in (("module cycles", "module_cycles"), ("package cycles", "package_cycles")):
        if m[key]:
            print(f"\n{title}:")
            for c in m[key]:
                print("  " + " ⇄ ".join(c))
    if m["private_imports"]:
        print("\nprivate names imported from other modules:")
        for p in m["private_imports"]:
            print("  " + p)
    if args.json:
        args.json.write_text(json.dumps(m, indent=1))


if __name__ == "__main__":
    main()
