"""No service imports another service's package: they talk over the bus only. And in a
service moved behind its store, only the store reaches the database."""

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


# Where the database is named: a service's store.py, and services/common. Every other
# module of a service goes through its store.
COLLECTION_METHODS = frozenset(
    {
        "find",
        "find_one",
        "insert_one",
        "insert_many",
        "update_one",
        "update_many",
        "replace_one",
        "delete_one",
        "delete_many",
        "aggregate",
        "count_documents",
        "estimated_document_count",
        "find_one_and_update",
        "bulk_write",
        "drop",
        "list_collection_names",
        "distinct",
        "find_one_and_replace",
        "find_one_and_delete",
        "create_index",
        "drop_collection",
        "command",
        "rename",
    }
)
# The service class hands its database to the shared helpers that need it whole (health,
# the outbox relay); no other module reaches past the store.
HANDS_OVER = "service.py"


def database_uses(path: Path) -> list[str]:
    """Where a module imports pymongo, calls a collection's method (``x.find(…)``) or
    reaches for the database behind a store (``store.database``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [
        f"{path.name}:{node.lineno} imports pymongo"
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            (name or "").split(".")[0] == "pymongo"
            for name in (
                [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            )
        )
    ]
    found += [
        f"{path.name}:{node.lineno} calls .{node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in COLLECTION_METHODS
        and not (isinstance(node.func.value, ast.Constant))  # "text".find(…)
    ]
    if path.name != HANDS_OVER:
        found += [
            f"{path.name}:{node.lineno} reaches .database"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in ("database", "db")
        ]
    return found


def outside_the_store(owner: str, services_dir: Path = SERVICES_DIR) -> list[str]:
    return [
        use
        for path in sorted((services_dir / owner).rglob("*.py"))
        if path.name != "store.py"
        for use in database_uses(path)
    ]


@pytest.mark.parametrize("owner", OWNERS)
def test_only_the_store_names_the_database(owner: str) -> None:
    assert outside_the_store(owner) == []


def test_the_store_check_catches_a_query_outside_the_store(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "lifecycle.py").write_text(
        "from pymongo.database import Database\n"
        "def load(db, task_id):\n    return db.tasks.find_one({'_id': task_id})\n"
        "def fine(store, task_id):\n    return store.load_task(task_id), 'a.b'.find('.')\n"
        "def sly(store):\n    return store.database.tasks.distinct('x')\n"
    )
    (tmp_path / "tasks" / "store.py").write_text("import pymongo\n")
    assert outside_the_store("tasks", tmp_path) == [
        "lifecycle.py:1 imports pymongo",
        "lifecycle.py:3 calls .find_one()",
        "lifecycle.py:7 calls .distinct()",
        "lifecycle.py:7 reaches .database",
    ]


# Domain modules name a record ``Document`` (services.common.document) without naming the
# database: services.common.mongo is for the stores and the declarations that build them.
DECLARES_THE_DATABASE = frozenset({"store.py", "service.py", "work.py"})


@pytest.mark.parametrize("owner", OWNERS)
def test_only_stores_and_declarations_import_the_mongo_module(owner: str) -> None:
    naming = [
        path.name
        for path in sorted((SERVICES_DIR / owner).rglob("*.py"))
        if path.name not in DECLARES_THE_DATABASE
        and "services.common.mongo" in imported_modules(path)
    ]
    assert naming == []


def undecorated_methods(path: Path) -> list[str]:
    """The methods of a module's service classes (those with a ``name``) that are no
    entrypoint: a service class only declares its dependencies and entrypoints."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        names = {
            t.id
            for a in node.body
            if isinstance(a, ast.Assign | ast.AnnAssign)
            for t in ([a.target] if isinstance(a, ast.AnnAssign) else a.targets)
            if isinstance(t, ast.Name)
        }
        if "name" not in names:
            continue
        found += [
            f"{node.name}.{item.name}"
            for item in node.body
            if isinstance(item, ast.FunctionDef) and not item.decorator_list
        ]
    return found


@pytest.mark.parametrize("owner", [o for o in OWNERS if o != "gateway"])
def test_a_service_class_only_declares(owner: str) -> None:
    assert undecorated_methods(SERVICES_DIR / owner / "service.py") == []


def test_the_declaration_check_catches_a_helper_method(tmp_path: Path) -> None:
    module = tmp_path / "service.py"
    module.write_text(
        "class S:\n    name = 's'\n    @rpc\n    def a(self): ...\n    def _b(self): ...\n"
    )
    assert undecorated_methods(module) == ["S._b"]
