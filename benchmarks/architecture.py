"""The package's architecture targets, as figures: ``python -m benchmarks
architecture`` (or ``python -m benchmarks.architecture``).

Printed, never asserted: the targets are goals, and the command exits 0
whatever the figures. Five parts:

1. **Modules walked by one request.** A warm request (the same request run
   :data:`WARM_UPS` times first, so that first calls of cached properties and
   ``lru_cache`` misses do not count) runs under :func:`sys.setprofile`
   through Flask's test client, :data:`TRACED` times; the one that runs the
   fewest functions is reported (a cache keyed by the second, such as the
   cookie's ``expires``, misses when the second turns). Kept: the Python
   functions whose code lies in
   the imported ``flask_koasession`` package; Flask's, Werkzeug's and the test
   client's are left out, and so is code without a file of its own (the
   ``__init__`` that :mod:`dataclasses` generates). Comprehensions and
   generator expressions are not counted as functions (Python 3.12 inlines
   the first ones); lambdas are. Modules are listed in the order the request
   first enters them.
2. **Import circles.** Every ``.py`` file under ``--package-dir`` is parsed
   with :mod:`ast`; every import of one of the package's modules counts, at
   the top of a file, under ``if TYPE_CHECKING:`` (marked ``type-only``) or
   inside a function (marked ``in function``). ``from . import name`` is an
   edge to the submodule ``name`` when there is one, else to the package's
   ``__init__``. Importing a submodule is not counted as importing its
   package's ``__init__`` too. Printed: each strongly connected component of
   more than one module, with the imports that tie it.
3. **Imports that run back up.** In a circle, the edges (module to module)
   whose every import is ``type-only`` or ``in function``: the arrows that
   had to be hidden from import time, those that run from a lower layer to
   a higher one (when a circle has no such edge, all of its edges). Also
   every import of an ``__init__`` from a module inside that package, since
   ``__init__`` sits at the top.
4. **Reads of another object's private attributes.** Every attribute
   ``X._name`` (one or more leading underscores, not a ``__dunder__``), read
   or written, whose ``X`` is not ``self``, ``cls``, ``super()`` or
   ``type(self)``; and every ``from .mod import _name`` of a package
   module. Not counted: names that are public API of the standard library
   despite their underscore (:data:`PUBLIC_UNDERSCORED`: the namedtuple
   methods, ``sys._getframe``, ``os._exit``...) and enum's ``_sunder_``
   names; and names reached through another library
   (``X`` rooted at a name imported from outside the package, such as
   ``t._SpecialForm``, or ``from werkzeug.x import _y``), which are listed
   apart: they are that library's privacy, not this package's layering.
5. **Module sizes**: lines per module, largest first.

The static parts (2 to 5) read the package under ``--package-dir`` (default:
the ``flask_koasession`` beside ``benchmarks/``); the traced requests (1) run
whichever ``flask_koasession`` Python imports. The header names both. Note
that ``python -m`` puts the current directory first on ``sys.path``, before
``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import ast
import collections
import dataclasses
import os
import sys
import types
import typing as t
from pathlib import Path

import flask

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

PACKAGE = "flask_koasession"
#: The package beside ``benchmarks/``: the static parts' default.
DEFAULT_PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE

#: Requests run before the traced ones, so that they are warm.
WARM_UPS = 3
#: Requests traced; the one that runs the fewest functions is reported.
TRACED = 3

#: Names of code objects that are not counted as functions.
COMPREHENSIONS = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"})

#: Underscored names that are public API of the standard library.
PUBLIC_UNDERSCORED = frozenset(
    {
        # collections.namedtuple (and typing.NamedTuple)
        "_asdict",
        "_field_defaults",
        "_fields",
        "_make",
        "_replace",
        # sys, os
        "_current_frames",
        "_exit",
        "_getframe",
        "_xoptions",
    }
)

#: Receivers whose private attributes are their own.
OWN_RECEIVERS = frozenset({"self", "cls", "mcs", "metacls"})


# -- 1. Modules walked by one request -------------------------------------


@dataclasses.dataclass
class Walk:
    """The package functions one request ran, by module, in first-call order."""

    functions: dict[str, list[str]]

    @property
    def modules(self) -> list[str]:
        return list(self.functions)

    @property
    def function_count(self) -> int:
        return sum(len(names) for names in self.functions.values())


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    store: bool  # MemoryStore, else cookie mode
    path: str
    follow: bool  # carries the cookie of an earlier request
    target: int | None  # at most this many modules


CASES = (
    Case("cookie write", store=False, path="/write", follow=True, target=7),
    Case("memory write", store=True, path="/write", follow=True, target=9),
    Case("cookie read", store=False, path="/read", follow=True, target=None),
    Case("cookie new", store=False, path="/new", follow=False, target=None),
)


def module_name(path: Path, package_dir: Path) -> str:
    """``stores/memory.py`` is ``stores.memory``; the package's own
    ``__init__.py`` is ``__init__``, a subpackage's ``stores.__init__``."""
    return ".".join(path.relative_to(package_dir).with_suffix("").parts)


def trace(request: Callable[[], object], package_dir: Path) -> Walk:
    """The functions under ``package_dir`` that ``request()`` runs."""
    root = str(package_dir) + os.sep
    names: dict[str, str | None] = {}  # co_filename -> module name, or None
    codes: dict[types.CodeType, None] = {}  # ordered set

    def profile(frame: types.FrameType, event: str, arg: object) -> None:
        if event != "call":
            return
        code = frame.f_code
        if code in codes:
            return
        filename = code.co_filename
        if filename not in names:
            path = os.path.realpath(filename)
            names[filename] = (
                module_name(Path(path), package_dir) if path.startswith(root) else None
            )
        if names[filename] is not None and code.co_name not in COMPREHENSIONS:
            codes[code] = None

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        request()
    finally:
        sys.setprofile(previous)
    functions: dict[str, list[str]] = {}
    for code in codes:
        module = names[code.co_filename]
        assert module is not None
        functions.setdefault(module, []).append(code.co_qualname)
    return Walk(functions)


def build_app(*, store: bool) -> flask.Flask:
    from flask_koasession import KoaSession
    from flask_koasession.stores import MemoryStore

    app = flask.Flask("architecture")
    app.secret_key = "architecture"
    if store:
        KoaSession(app, store=MemoryStore())
    else:
        KoaSession(app)

    @app.get("/new")
    def new() -> str:
        flask.session["n"] = 1
        return "new"

    @app.get("/write")
    def write() -> str:
        flask.session["n"] += 1
        return "write"

    @app.get("/read")
    def read() -> str:
        return str(flask.session.get("n"))

    return app


def walk(case: Case, package_dir: Path) -> Walk:
    """What the warmest of ``case``'s traced requests ran."""
    app = build_app(store=case.store)
    client = app.test_client(use_cookies=case.follow)

    def request() -> None:
        response = client.get(case.path)
        if response.status_code != 200:
            raise RuntimeError(f"{case.name}: {case.path} gave {response.status}")

    if case.follow:
        client.get("/new")
    for _ in range(WARM_UPS):
        request()
    walks = [trace(request, package_dir) for _ in range(TRACED)]
    return min(walks, key=lambda walk: walk.function_count)


def print_walks(*, list_functions: bool = False) -> None:
    import flask_koasession

    imported = Path(flask_koasession.__file__ or "").resolve().parent
    print("Modules walked by one request (sys.setprofile, warm, package code only):")
    for case in CASES:
        walked = walk(case, imported)
        target = "" if case.target is None else f" (target: at most {case.target})"
        print(
            f"  {case.name}: {len(walked.modules)} modules{target},"
            f" {walked.function_count} functions: {', '.join(walked.modules)}"
        )
        if list_functions:
            for module, functions in walked.functions.items():
                print(f"    {module}: {', '.join(functions)}")


# -- 2, 3. The import graph -----------------------------------------------


@dataclasses.dataclass(frozen=True)
class Import:
    """One import statement's edge, from a package module to another."""

    source: str
    target: str
    line: int
    names: tuple[str, ...]
    kind: str  # "", "type-only" or "in function"


@dataclasses.dataclass(frozen=True)
class Private:
    """A private name reached from outside its owner."""

    module: str
    line: int
    text: str
    external: bool  # another library's


class Package:
    """The package's modules under ``directory``, parsed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files = {
            module_name(path, directory): path
            for path in sorted(directory.rglob("*.py"))
        }
        self.trees = {
            module: ast.parse(path.read_text(encoding="utf-8"), str(path))
            for module, path in self.files.items()
        }

    def filename(self, module: str) -> str:
        return self.files[module].relative_to(self.directory).as_posix()

    def resolve(self, parts: t.Sequence[str]) -> str | None:
        """The module of a dotted path inside the package, if any."""
        if not parts:
            return "__init__"
        name = ".".join(parts)
        if name in self.files:
            return name
        if f"{name}.__init__" in self.files:
            return f"{name}.__init__"
        return None

    def base(self, module: str, node: ast.ImportFrom) -> list[str] | None:
        """What ``from X import ...`` in ``module`` names, as the parts of a
        path inside the package; None when X lies outside the package."""
        if node.level == 0:
            parts = (node.module or "").split(".")
            return parts[1:] if parts[0] == PACKAGE else None
        package = module.split(".")[:-1]  # __init__'s and a module's alike
        up = node.level - 1
        if up > len(package):
            return None
        base = package[: len(package) - up]
        return base + node.module.split(".") if node.module else base

    def imports(self) -> Iterator[Import]:
        for module, tree in self.trees.items():
            for node, kind in _imports(tree.body):
                yield from self._edges(module, node, kind)

    def _edges(
        self, module: str, node: ast.Import | ast.ImportFrom, kind: str
    ) -> Iterator[Import]:
        line = node.lineno
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                target = self.resolve(parts[1:]) if parts[0] == PACKAGE else None
                if target is not None:
                    yield Import(module, target, line, (alias.name,), kind)
            return
        base = self.base(module, node)
        if base is None:
            return
        target = self.resolve(base)
        if target is None:
            return
        names = []
        for alias in node.names:
            submodule = (
                self.resolve([*base, alias.name])
                if target.endswith("__init__")
                else None
            )
            if submodule is not None:
                yield Import(module, submodule, line, (alias.name,), kind)
            else:
                names.append(alias.name)
        if names:
            yield Import(module, target, line, tuple(names), kind)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(
    nodes: Iterable[ast.AST], kind: str = ""
) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import in or under ``nodes``, with where it runs."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, kind
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _imports(ast.iter_child_nodes(node), kind or "in function")
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports(node.body, "type-only")
            yield from _imports(node.orelse, kind)
        else:
            yield from _imports(ast.iter_child_nodes(node), kind)


def components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _describe(package: Package, edge: Import) -> str:
    kind = f" [{edge.kind}]" if edge.kind else ""
    return (
        f"{package.filename(edge.source)}:{edge.line} ->"
        f" {package.filename(edge.target)}: {', '.join(edge.names)}{kind}"
    )


def _is_inside(module: str, init: str) -> bool:
    """Whether ``module`` lies in the package whose ``__init__`` is ``init``."""
    prefix = init.removesuffix("__init__")
    return module != init and module.startswith(prefix)


def print_imports(package: Package) -> None:
    edges = [edge for edge in package.imports() if edge.source != edge.target]
    graph: dict[str, set[str]] = collections.defaultdict(set)
    by_pair: dict[tuple[str, str], list[Import]] = collections.defaultdict(list)
    for edge in edges:
        graph[edge.source].add(edge.target)
        by_pair[edge.source, edge.target].append(edge)
    circles = components(graph)
    print(f"Import circles: {len(circles)} (target: none)")
    up: dict[Import, list[str]] = {}  # edge -> why
    for circle in circles:
        members = set(circle)
        print(f"  {' <-> '.join(package.filename(module) for module in circle)}")
        pairs = sorted(pair for pair in by_pair if members >= set(pair))
        hidden = [
            pair
            for pair in pairs
            if all(edge.kind for edge in by_pair[pair])  # none at import time
        ]
        for pair in pairs:
            for edge in by_pair[pair]:
                print(f"    {_describe(package, edge)}")
        for pair in hidden or pairs:
            for edge in by_pair[pair]:
                up.setdefault(edge, []).append("in a circle")
    for edge in edges:
        if edge.target.endswith("__init__") and _is_inside(edge.source, edge.target):
            up.setdefault(edge, []).append("to __init__")
    print(f"Imports that run back up: {len(up)} (target: none)")
    for edge in sorted(up, key=lambda edge: (edge.source, edge.line, edge.target)):
        print(f"  {_describe(package, edge)} ({', '.join(up[edge])})")


# -- 4. Private names -----------------------------------------------------


def _is_private(name: str) -> bool:
    if not name.startswith("_") or name in PUBLIC_UNDERSCORED:
        return False
    dunder = name.startswith("__") and name.endswith("__")
    sunder = len(name) > 2 and name.endswith("_") and not name.startswith("__")
    return not (dunder or sunder)


def _is_own(receiver: ast.expr) -> bool:
    """``self``, ``cls``, ``super()``, ``super(...)``, ``type(self)``."""
    if isinstance(receiver, ast.Name):
        return receiver.id in OWN_RECEIVERS
    if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name):
        if receiver.func.id == "super":
            return True
        if receiver.func.id == "type" and len(receiver.args) == 1:
            return _is_own(receiver.args[0])
    return False


def _root(node: ast.expr) -> str | None:
    """The name an attribute chain starts from: ``t`` of ``t.x._y``."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _external_names(package: Package, module: str, tree: ast.Module) -> set[str]:
    """The names ``module`` binds by importing from outside the package."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != PACKAGE:
                    bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and package.base(module, node) is None:
            bound.update(alias.asname or alias.name for alias in node.names)
    return bound


def privates(package: Package) -> Iterable[Private]:
    for module, tree in package.trees.items():
        external = _external_names(package, module, tree)
        filename = package.filename(module)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _is_private(node.attr):
                if _is_own(node.value):
                    continue
                write = "" if isinstance(node.ctx, ast.Load) else "  (write)"
                yield Private(
                    filename,
                    node.lineno,
                    ast.unparse(node) + write,
                    external=(_root(node.value) or "") in external,
                )
            elif isinstance(node, ast.ImportFrom):
                names = [alias.name for alias in node.names if _is_private(alias.name)]
                if names:
                    dots = "." * node.level
                    yield Private(
                        filename,
                        node.lineno,
                        f"from {dots}{node.module or ''} import {', '.join(names)}",
                        external=package.base(module, node) is None,
                    )


def print_privates(package: Package) -> None:
    found = sorted(privates(package), key=lambda item: (item.module, item.line))
    ours = [item for item in found if not item.external]
    others = [item for item in found if item.external]
    print(f"Reads of another object's private attributes: {len(ours)} (target: 0)")
    by_module = collections.Counter(item.module for item in ours)
    if by_module:
        print(
            "  by file: "
            + ", ".join(f"{name} {count}" for name, count in by_module.most_common())
        )
    for item in ours:
        print(f"  {item.module}:{item.line}: {item.text}")
    print(f"  Another library's private names (not counted): {len(others)}")
    for item in others:
        print(f"    {item.module}:{item.line}: {item.text}")


# -- 5. Sizes -------------------------------------------------------------


def print_sizes(package: Package) -> None:
    sizes = {
        module: len(path.read_text(encoding="utf-8").splitlines())
        for module, path in package.files.items()
    }
    print(f"Module sizes (lines): {sum(sizes.values())} in {len(sizes)} modules")
    for module, lines in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {lines:5d}  {module}")


def main(
    package_dir: Path | str = DEFAULT_PACKAGE_DIR, *, list_functions: bool = False
) -> None:
    import flask_koasession

    directory = Path(package_dir).resolve()
    if not (directory / "__init__.py").is_file():
        raise SystemExit(f"not a package directory: {directory}")
    imported = Path(flask_koasession.__file__ or "").resolve().parent
    print(f"Architecture of {PACKAGE}")
    print(f"  static parts (2-5): {directory}")
    print(f"  traced requests (1): {imported} (imported)")
    if imported != directory:
        print("  (not the same package: see --package-dir and PYTHONPATH)")
    print()
    print_walks(list_functions=list_functions)
    print()
    package = Package(directory)
    print_imports(package)
    print()
    print_privates(package)
    print()
    print_sizes(package)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument(
        "--package-dir", type=Path, default=DEFAULT_PACKAGE_DIR, metavar="PATH",
        help="the package whose files are read (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--functions", action="store_true",
        help="list the functions each traced request runs",
    )  # fmt: skip
    arguments = parser.parse_args()
    main(arguments.package_dir, list_functions=arguments.functions)
