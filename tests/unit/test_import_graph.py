"""The package's import graph has no circles, between modules or between packages.

Every ``import bot...`` / ``from bot... import`` in `bot/` counts, including those
inside functions and under ``TYPE_CHECKING``: a circle hidden behind a lazy import
is still a circle a reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import bot

ROOT = Path(bot.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The bot modules `path` imports (a ``from pkg import mod`` names the module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("bot"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return {m for m in found if m in modules}


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in ROOT.rglob("*.py")}
    modules = set(paths)
    return {name: _imports(path, modules) - {name} for name, path in paths.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle in `graph`, as a path that returns to its start, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_module_imports_itself_back() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_no_package_imports_itself_back() -> None:
    packages: dict[str, set[str]] = {}
    for module, deps in _graph().items():
        src = _package(module)
        packages.setdefault(src, set()).update(
            _package(d) for d in deps if _package(d) != src)
    cycle = _cycle(packages)
    assert cycle is None, "package circle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_circle() -> None:
    # The finder itself must be able to fail: a known circle is reported.
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_every_rule_kind_has_a_policy_model_and_back() -> None:
    # check-config validates rules with the policy models alone; `run` loads the
    # kinds.  The two registries must name the same kinds with the same models.
    from bot.rules.loader import policy_models, rule_kinds

    models, kinds = policy_models(), rule_kinds()
    assert set(models) == set(kinds)
    for name, cls in kinds.items():
        assert cls.policy_model is models[name], name
