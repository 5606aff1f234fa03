"""The layout's import rules, checked on the source of `bot/`, `handlers/` and `scheduler/`.

Nothing is imported: every module is parsed with `ast`, and every import counts — at the
top of the module, inside a function (a "lazy" import: it hides a cycle from Python, not
from the reader), under `if TYPE_CHECKING:`, and `importlib.import_module("...")` with a
literal name. `from package import name` counts as an import of `package.name` when that
is a module, else of the package's `__init__`.

Data flows one way (DESIGN.md, "Layout"): handlers/, scheduler/ and bot/api call the
domain (bot/promo, bot/delivery), the domain calls bot/db; bot/app wires them together.
The rules, each a test below:

1. No import cycles. Two modules that import each other, directly or round a longer
   loop, are one module in two files: move what both need to a third module, or pass it
   in. A package's `__init__` importing its own submodule is an edge like any other, so
   that submodule must not import the package back (import the sibling module instead).
2. The core — bot.promo, bot.delivery, bot.db, bot.texts — never imports the layers
   around it: handlers, scheduler, bot.app, bot.api, aiohttp's web server (`aiohttp.web`)
   or APScheduler. It is called by them, and runs without them (the CLI, the tests).
3. The domain, bot.promo, never imports the sender (bot.delivery.sender) or aiogram: it
   writes to the outbox (bot.delivery.outbox), which is the seam; the sender reads it.
4. bot.delivery never imports bot.promo or bot.texts: what a message says is rendered by
   a function the composition root hands to the sender.
5. Only the composition root, bot.app, imports handlers and scheduler (each package may
   import its own modules, and neither imports the other).
6. handlers and scheduler build no ORM queries: they parse, call a domain function with
   the session they were given, and render. Of SQLAlchemy they import the `AsyncSession`
   type only; `ORM_EXCEPTIONS` lists the few modules that hold sessions or connections
   themselves, with the names they may use and why. Nor do they query through a session
   (`session.get(...)`, `read_session.execute(...)`): they only commit or roll back.

A failure lists the offending imports as `importer -> imported (file:line)`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "scheduler")

CORE = ("bot.promo", "bot.delivery", "bot.db", "bot.texts")
OUTER = ("handlers", "scheduler", "bot.app", "bot.api", "apscheduler")

# What handlers/ and scheduler/ may take from SQLAlchemy: the type of the session they
# pass on to the domain.
ORM_ALLOWED = frozenset({"sqlalchemy.ext.asyncio.AsyncSession"})
# Modules that own a session or a connection rather than query through one, and why.
ORM_EXCEPTIONS: dict[str, tuple[frozenset[str], str]] = {
    "handlers.middlewares.session": (
        frozenset({"sqlalchemy.event", "sqlalchemy.ext.asyncio.async_sessionmaker",
                   "sqlalchemy.orm.Session"}),
        "opens the handler's sessions and hooks their commit; builds no query",
    ),
    "scheduler.leader": (
        frozenset({"sqlalchemy.text", "sqlalchemy.exc.DBAPIError",
                   "sqlalchemy.exc.OperationalError", "sqlalchemy.ext.asyncio.AsyncConnection",
                   "sqlalchemy.ext.asyncio.AsyncEngine",
                   "sqlalchemy.ext.asyncio.create_async_engine", "sqlalchemy.pool.NullPool"}),
        "leader election holds a PostgreSQL advisory lock on a connection of its own; "
        "it reads no table",
    ),
}


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement's target, as seen from `importer`.

    `target` is one of our modules when it names one, else the dotted name as written
    (`aiohttp`, `sqlalchemy.ext.asyncio`); `names` are what `from target import ...` took
    when those are not modules of ours."""

    importer: str
    target: str
    names: tuple[str, ...]
    file: str
    line: int

    def dotted(self) -> Iterator[str]:
        """The target and each imported name under it (`aiohttp.web`, `sqlalchemy.select`)."""
        yield self.target
        for name in self.names:
            yield f"{self.target}.{name}"

    def __str__(self) -> str:
        what = self.target + (f" ({', '.join(self.names)})" if self.names else "")
        return f"{self.importer} -> {what} ({self.file}:{self.line})"


def within(name: str, *prefixes: str) -> bool:
    """`name` is one of `prefixes` or inside one of them (by dotted components)."""
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _module_files() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _resolve_from(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module of `from <node.module> import ...`, relative imports included."""
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _literal_import_module(node: ast.Call) -> str | None:
    """`importlib.import_module("x")`, `import_module("x")` or `__import__("x")` → "x"."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if called not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    tree = _tree(path)
    file = str(path.relative_to(ROOT))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, (), file, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_from(module, path, node)
            others = []
            for alias in node.names:
                if f"{source}.{alias.name}" in modules:
                    yield Import(module, f"{source}.{alias.name}", (), file, node.lineno)
                else:
                    others.append(alias.name)
            if others:
                yield Import(module, source, tuple(others), file, node.lineno)
        elif isinstance(node, ast.Call) and (name := _literal_import_module(node)):
            yield Import(module, name, (), file, node.lineno)


@cache
def all_imports() -> tuple[Import, ...]:
    modules = _module_files()
    return tuple(
        found for module, path in modules.items() for found in _imports_of(module, path, modules)
    )


def _cycles(imports: tuple[Import, ...], modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for found in imports:
        if found.target in modules and found.target != found.importer:
            graph[found.importer].add(found.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


def _report(title: str, offending: list[Import]) -> str:
    lines = sorted({str(found) for found in offending})
    return f"{title}:\n  " + "\n  ".join(lines)


def _violations(rule: Callable[[Import], bool]) -> list[Import]:
    return [found for found in all_imports() if rule(found)]


def _aiohttp_server(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "aiohttp" and len(parts) > 1 and (
        parts[1] == "web" or parts[1].startswith("web_") or parts[1] == "worker"
    )


def test_the_walk_sees_every_kind_of_import() -> None:
    """Guards the walker itself: lazy, relative and `from package import module` forms."""
    seen = {(found.importer, found.target) for found in all_imports()}
    assert len(_module_files()) > 100
    assert ("bot.cli", "bot.app.run") in seen  # lazy, inside a subcommand's handler
    assert ("scheduler.jobs", "bot.promo.campaigns.running") in seen  # from pkg import mod


def test_no_import_cycles() -> None:
    modules = set(_module_files())
    components = _cycles(all_imports(), modules)
    offending = [
        found for component in components for found in all_imports()
        if found.importer in component and found.target in component
    ]
    assert not components, _report(
        "import cycles (lazy imports included): "
        + "; ".join(" <-> ".join(component) for component in components)
        + "\nthe imports inside them", offending,
    )


def test_the_core_does_not_import_the_outer_layers() -> None:
    offending = _violations(lambda found: within(found.importer, *CORE) and any(
        within(name, *OUTER) or _aiohttp_server(name) for name in found.dotted()
    ))
    assert not offending, _report(
        "bot.promo, bot.delivery, bot.db and bot.texts import handlers, scheduler, bot.app, "
        "bot.api, aiohttp.web or apscheduler", offending,
    )


def test_the_domain_does_not_import_the_sender_or_aiogram() -> None:
    offending = _violations(lambda found: within(found.importer, "bot.promo") and any(
        within(name, "bot.delivery.sender", "aiogram") for name in found.dotted()
    ))
    assert not offending, _report(
        "bot.promo imports the sender or aiogram (write to bot.delivery.outbox instead)",
        offending,
    )


def test_delivery_does_not_import_the_domain_or_texts() -> None:
    offending = _violations(lambda found: within(found.importer, "bot.delivery") and any(
        within(name, "bot.promo", "bot.texts") for name in found.dotted()
    ))
    assert not offending, _report(
        "bot.delivery imports bot.promo or bot.texts (have the renderer passed in)", offending
    )


def test_only_the_composition_root_imports_handlers_and_scheduler() -> None:
    def outsider(found: Import) -> bool:
        return not within(found.importer, "bot.app") and any(
            within(name, package) and not within(found.importer, package)
            for name in found.dotted() for package in ("handlers", "scheduler")
        )

    offending = _violations(outsider)
    assert not offending, _report("handlers or scheduler imported outside bot.app", offending)


def test_handlers_and_scheduler_build_no_orm_queries() -> None:
    def queries(found: Import) -> bool:
        if not within(found.importer, "handlers", "scheduler"):
            return False
        if not within(found.target, "sqlalchemy"):
            return False
        allowed = ORM_ALLOWED | ORM_EXCEPTIONS.get(found.importer, (frozenset(), ""))[0]
        taken = [f"{found.target}.{name}" for name in found.names] or [found.target]
        return any(name not in allowed for name in taken)

    offending = _violations(queries)
    assert not offending, _report(
        "handlers/ or scheduler/ import SQLAlchemy beyond AsyncSession (move the query into "
        "a domain function in bot/promo and call it)", offending,
    )


# What a handler or a job may do with a session it holds: end its transaction.
SESSION_CALLS_ALLOWED = frozenset({"commit", "rollback", "close"})


def test_handlers_and_scheduler_query_only_through_the_domain() -> None:
    """A call on anything named `*session` other than commit/rollback/close is a query."""
    offending = []
    for module, path in _module_files().items():
        if not within(module, "handlers", "scheduler"):
            continue
        for node in ast.walk(_tree(path)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if name.endswith("session") and node.func.attr not in SESSION_CALLS_ALLOWED:
                offending.append(f"{module}: {name}.{node.func.attr}(...) "
                                 f"({path.relative_to(ROOT)}:{node.lineno})")
    assert not offending, (
        "handlers/ or scheduler/ query through a session (call a domain function in "
        "bot/promo instead):\n  " + "\n  ".join(offending)
    )

