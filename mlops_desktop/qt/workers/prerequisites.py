"""Which modules must be imported on the GUI thread, and what they import that need not be.

A module that defines Qt classes (our panels, matplotlib's Qt backend) makes PySide create
them as it runs, and doing that on another thread while the window runs crashed the process
(SIGSEGV) now and then. Such a module is imported on the GUI thread; what it imports at its
top level from outside the GUI (pandas, scikit-learn, matplotlib's figures, our services),
found by reading its source and the sources of the GUI modules it imports, loads first on
the background thread, so the GUI thread is left only the classes: tens of milliseconds.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

#: Qt's own packages and those whose modules create Qt classes, and the names of other
#: modules that do (matplotlib's Qt backends, and the module that wraps Qt for them).
GUI_PACKAGES = ("PySide6", "shiboken6", "mlops_desktop.qt")
GUI_PREFIXES = ("matplotlib.backends.backend_qt", "matplotlib.backends.qt_")


def needs_gui_thread(name: str) -> bool:
    in_package = any(name == p or name.startswith(p + ".") for p in GUI_PACKAGES)
    return in_package or name.startswith(GUI_PREFIXES)


def packages_above(name: str) -> list[str]:
    """The packages above ``name`` that are outside the GUI, outermost first: they are
    imported before its source can be found."""
    parts = name.split(".")
    above = (".".join(parts[:i]) for i in range(1, len(parts)))
    return [package for package in above if not needs_gui_thread(package)]


def outside_gui(name: str) -> list[str]:
    """What ``name`` (a GUI module not yet imported) and the GUI modules it imports import
    at their top level from outside the GUI, in the order they appear; read from the
    sources, nothing is run. A name found may be a class rather than a module
    (``from x import Y``): importing it then fails, which only means there is nothing to
    load early. Call once ``packages_above(name)`` are imported."""
    parts = name.split(".")
    above = [".".join(parts[:i]) for i in range(1, len(parts))]
    todo = [p for p in above if needs_gui_thread(p) and p not in sys.modules] + [name]
    found: list[str] = []
    seen = set(todo) | set(above)
    while todo:
        for imported in _top_level_imports(todo.pop(0)):
            if imported not in seen:
                seen.add(imported)
                (todo if needs_gui_thread(imported) else found).append(imported)
    return found


def _top_level_imports(name: str) -> Iterator[str]:
    source = _source_of(name)
    if source is None:
        return
    try:
        tree = ast.parse(source.read_bytes(), str(source))
    except (OSError, SyntaxError, ValueError):
        return  # the import itself will say what is wrong
    package = name if source.name == "__init__.py" else name.rpartition(".")[0]
    for node in _run_at_import(tree.body):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            if base is None:
                continue
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")


def _run_at_import(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements a module runs when imported: not those inside functions or classes,
    nor under ``if TYPE_CHECKING:``."""
    for node in body:
        if isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                yield from _run_at_import(node.body)
            yield from _run_at_import(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _run_at_import(block)
            for handler in node.handlers:
                yield from _run_at_import(handler.body)
        elif isinstance(node, ast.With):
            yield from _run_at_import(node.body)
        else:
            yield node


def _absolute(node: ast.ImportFrom, package: str) -> str | None:
    if not node.level:
        return node.module
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    if not base:
        return None
    return f"{base}.{node.module}" if node.module else base


def _source_of(name: str) -> Path | None:
    """The source file of module ``name``, found from the nearest package above it that is
    already imported, without importing anything."""
    module = sys.modules.get(name)
    if module is not None:
        return None  # already imported: nothing of it is left to load
    parts = name.split(".")
    for depth in range(len(parts) - 1, 0, -1):
        package = sys.modules.get(".".join(parts[:depth]))
        if package is not None and hasattr(package, "__path__"):
            break
    else:
        return None
    for root in package.__path__:
        base = Path(root).joinpath(*parts[depth:])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None
