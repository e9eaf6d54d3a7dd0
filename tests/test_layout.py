"""The package's layout, read from its imports with `ast`: no import circle,
and nothing below the command layer imports it (`cli/` holds the Typer
commands: only the entry point sits above them). Imports inside functions
count (they run too); those under `if TYPE_CHECKING:` do not (they never run).
Also one place mints the `chatcmpl-` ids, the backends are the only seam
between the commands and where a request runs, and no module outgrows a
reader (450 lines)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "oruel_cli"
COMMANDS = "oruel_cli.cli"  # the command layer
ABOVE_COMMANDS = {"oruel_cli.entry", "oruel_cli.__main__"}  # the entry point only


def module_files(package: Path) -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.with_suffix("").relative_to(package.parent).parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _runtime_nodes(tree: ast.AST):  # noqa: ANN202 - an iterator of nodes
    """Every node except what sits under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend(child.orelse)
            else:
                stack.append(child)


def import_graph(package: Path) -> dict[str, set[str]]:
    """Each module -> the package's modules it imports (relative or absolute)."""
    modules = module_files(package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets.add(source)
                targets.update(f"{source}.{alias.name}" for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: each strongly connected set of two or more modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def imports_of_commands(graph: dict[str, set[str]]) -> list[str]:
    """'A -> B' for each module below the command layer that imports it."""
    below = [m for m in graph if not m.startswith(COMMANDS) and m not in ABOVE_COMMANDS]
    return [
        f"{m} -> {t}"
        for m in sorted(below)
        for t in sorted(graph[m])
        if t == COMMANDS or t.startswith(COMMANDS + ".")
    ]


def test_no_import_circle():
    assert circles(import_graph(PACKAGE)) == []


def test_nothing_below_the_commands_imports_them():
    assert imports_of_commands(import_graph(PACKAGE)) == []


def test_one_place_mints_completion_ids():
    minting = [
        str(path.relative_to(PACKAGE))
        for path in module_files(PACKAGE).values()
        if '"chatcmpl-' in path.read_text(encoding="utf-8")
    ]
    assert minting == ["api/ids.py"]


MAX_LINES = 450  # a module of code longer than this holds more than one thing: split it
DATA_MODULES = {"params/cards.py"}  # one literal each (the reference cards), no code to split


def test_no_module_is_over_the_line_limit():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in module_files(PACKAGE).values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert set(long) <= DATA_MODULES, long


# Reaching into a backend's insides: what lies behind `backends/` is theirs.
BYPASSES = ("hasattr(backend", ".prompter.", ".driver.engine")


def test_only_the_backends_reach_the_engine_behind_them():
    found = [
        f"{path.relative_to(PACKAGE)}: {needle}"
        for path in module_files(PACKAGE).values()
        if path.relative_to(PACKAGE).parts[0] != "backends"
        for needle in BYPASSES
        if needle in path.read_text(encoding="utf-8")
    ]
    assert found == []


def test_the_checks_see_a_circle_and_an_upward_import(tmp_path):
    """The checks themselves, on a package made for them: a circle through an
    import inside a function, an upward import, and what must not count."""
    pkg = tmp_path / "oruel_cli"
    files = {
        "__init__.py": "",
        "cli/__init__.py": "",
        "cli/main.py": "from ..chat import repl\n",
        "chat/__init__.py": "",
        "chat/repl.py": "from . import commands\n",
        "chat/commands.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from .repl import Chat\n"  # does not run: no circle
            "def run():\n    from .transcript import load\n"
        ),
        "chat/transcript.py": "from .commands import read\n",  # a circle with commands
        "demo/__init__.py": "",
        "demo/run.py": "def run():\n    from oruel_cli.cli.main import x\n",  # upward
        "entry.py": "from .cli.main import main\n",  # the entry point may
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    graph = import_graph(pkg)
    assert graph["oruel_cli.chat.commands"] == {"oruel_cli.chat.transcript"}
    assert circles(graph) == [["oruel_cli.chat.commands", "oruel_cli.chat.transcript"]]
    assert imports_of_commands(graph) == ["oruel_cli.demo.run -> oruel_cli.cli.main"]


TESTS = Path(__file__).resolve().parent
TOP_LEVEL_TESTS = {"conftest.py", "test_layout.py", "test_signals.py"}  # the package as a whole


def test_tests_are_grouped_by_room_with_their_helpers_in_support():
    """A test module lives in the folder of the part it tests; a helper that
    tests share lives in the support package, imported as `support.NAME`."""
    assert {p.name for p in TESTS.glob("*.py")} <= TOP_LEVEL_TESTS
    assert (TESTS / "support" / "__init__.py").is_file()
    rooms = [d for d in TESTS.iterdir() if d.is_dir() and d.name not in ("support", "templates")]
    rooms = [d for d in rooms if not d.name.startswith((".", "__"))]
    assert len(rooms) >= 8, rooms
    strays = [p for d in rooms for p in d.rglob("*.py") if not p.name.startswith("test_")]
    assert strays == [], "helpers belong in tests/support/"
