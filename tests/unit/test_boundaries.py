"""No service imports another service's package: they talk over the bus only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
OWNERS = ("identity", "certs", "policy", "tasks", "gateway")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.add("." * node.level + (node.module or ""))
    return found


def foreign_imports(owner: str, services_dir: Path = SERVICES_DIR) -> list[str]:
    others = [o for o in OWNERS if o != owner]
    problems = []
    for path in sorted((services_dir / owner).rglob("*.py")):
        for module in imported_modules(path):
            if module.startswith(".."):
                problems.append(f"{path.name}: relative import {module} leaves the package")
            for other in others:
                if module == f"services.{other}" or module.startswith(f"services.{other}."):
                    problems.append(f"{path.relative_to(services_dir)} imports {module}")
    return problems


@pytest.mark.parametrize("owner", OWNERS)
def test_service_imports_only_common_and_itself(owner: str) -> None:
    assert foreign_imports(owner) == []


def test_common_imports_no_service() -> None:
    for path in (SERVICES_DIR / "common").rglob("*.py"):
        for module in imported_modules(path):
            assert not any(module.startswith(f"services.{o}") for o in OWNERS), (path, module)


def test_the_check_catches_a_foreign_import(tmp_path: Path) -> None:
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "facts.py").write_text(
        "from services.identity.accounts import view\nimport services.certs\n"
        "from services.common.errors import NotFound\n"
    )
    assert sorted(foreign_imports("policy", tmp_path)) == [
        "policy/facts.py imports services.certs",
        "policy/facts.py imports services.identity.accounts",
    ]
