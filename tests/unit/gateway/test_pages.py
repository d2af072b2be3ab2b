"""The pages' small rules: a login never redirects off the site, a QR's text is routed to
the right check, and refusals are said in plain Chinese naming the field."""

from __future__ import annotations

import json

import pytest

from services.common.crypto import b64url
from services.gateway.cards import status_text
from services.gateway.pages.api import ApiError
from services.gateway.pages.authoring import definition_from_form
from services.gateway.pages.messages import explain
from services.gateway.pages.session import safe_next
from services.gateway.pages.verifier import code_card, is_presentation


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "", None, "javascript:x"],
)
def test_a_login_returns_only_to_a_page_of_this_site(target: str | None) -> None:
    assert safe_next(target) == "/"


def test_a_login_returns_to_the_page_that_asked() -> None:
    assert safe_next("/citizen/code") == "/citizen/code"


def jwt_with(claims: dict[str, object]) -> str:
    return ".".join(
        [b64url(b'{"alg":"EdDSA"}'), b64url(json.dumps(claims).encode()), b64url(b"sig")]
    )


def test_presentations_and_codes_go_to_their_own_checks() -> None:
    assert is_presentation(jwt_with({"jti": "x", "items": []}))
    assert not is_presentation(jwt_with({"sub": "p_1", "st": "p"}))
    assert not is_presentation("not a token")


def test_a_refusal_is_said_in_chinese_with_the_field() -> None:
    replayed = ApiError(409, {"code": "replayed", "field": "token", "detail": "used"})
    assert explain(replayed).startswith("此码已被使用过")
    assert explain(ApiError(422, {"field": "fields"})).endswith("（出示项目）")
    assert "30 秒" in explain(ApiError(429, {"retry_after": "30"}))
    assert explain(ApiError(500, {})) == "操作未能完成，请稍后再试"
    running = ApiError(409, {"code": "run_in_progress", "state": "running"})
    assert explain(running).startswith("这项政策的兑现正在进行中")  # not "refresh and retry"


def test_a_code_card_shows_only_what_the_scene_returned() -> None:
    card = code_card({"subject_type": "person", "fields": {"valid": True, "concession": "elderly"}})
    assert card["rows"] == [("优待类型", "老年人")]
    assert card["kind"] == "个人码"


def test_a_policy_form_becomes_the_policy_the_api_takes() -> None:
    form = {
        "code": "care",
        "title": "护理补贴",
        "department": "区残联",
        "subject_type": "person",
        "mode": "auto",
        "payout_period": "yearly",
        "budget": "1,000.50",
        "join": "any",
        "fact_0": "age",
        "op_0": ">=",
        "value_0": "60",
        "label_0": "年满六十",
        "clause_0": "第二条",
        "fact_1": "district",
        "op_1": "in",
        "value_1": "和平，沈河",
        "fact_2": "",
        "amount_kind": "rate",
        "amount_rate": "50",
        "amount_of": "device_price",
        "amount_cap": "2000",
    }
    policy = definition_from_form(form)
    assert policy["budget"] == 100050  # yuan to fen
    assert policy["conditions"] == {
        "any": [
            {"fact": "age", "op": ">=", "value": 60, "label": "年满六十", "clause": "第二条"},
            {
                "fact": "district",
                "op": "in",
                "value": ["和平", "沈河"],
                "label": "district",
                "clause": None,
            },
        ]
    }
    assert policy["amount"] == {"rate": 0.5, "of": "device_price", "cap": 200000}


def test_a_composite_licence_names_the_part_that_fails_it() -> None:
    failed = [{"number": "HPYJ-2026-X", "name": "药品经营许可证", "status": "revoked"}]
    assert status_text({"status": "invalid", "failed_parts": failed}) == (
        "已失效（药品经营许可证已注销）"
    )
    assert status_text({"status": "valid"}) == "有效"
    assert status_text({"status": "something_new"}) == "状态未知"  # never an English word
