"""The access model covers everything: every RPC of every service has a rule and every rule
an RPC; every route of the API names the operations it performs and each has a rule. The
checks catch a planted RPC and a planted route."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from services.gateway.app import create_app
from services.gateway.settings import Settings
from services.identity import access as identity_access
from services.identity.service import IdentityService
from tests.access_model import SERVICES, TABLES, readme_section, unmapped, unruled
from tests.conftest import ROOT


def test_every_rpc_has_a_rule_and_every_rule_an_rpc() -> None:
    for name, service in SERVICES.items():
        assert unruled(service, TABLES[name]) == [], name


def test_every_route_names_operations_that_have_rules() -> None:
    assert unmapped(create_app(Settings()).openapi()) == []


def test_a_planted_rpc_without_a_rule_is_caught() -> None:
    class Planted(IdentityService):
        @rpc  # type: ignore[misc]
        def export_everyone(self) -> list[Any]:
            return []

    assert unruled(Planted, identity_access.TABLE) == ["identity.export_everyone: no rule"]


def test_a_planted_route_without_an_operation_is_caught() -> None:
    app = create_app(Settings())

    @app.get("/v1/everyone")
    async def everyone() -> list[Any]:
        return []

    problems = unmapped(app.openapi())
    assert problems == ["GET /v1/everyone: no x-operation"]


def test_the_readme_table_is_the_model() -> None:
    """The README's "who may do what" is printed from the tables (make access-table)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_section() in text, "README.md is stale: run make access-table"
