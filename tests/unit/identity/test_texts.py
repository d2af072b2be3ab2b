"""The texts identity sends for policy: what they say to a person, to an enterprise's legal
representative, and when a pushed amount was not funded."""

from __future__ import annotations

from services.identity.notifications import policy_text

NOTICE = {
    "title": "研发费用补助",
    "department": "区市场监管局",
    "mode": "confirm",
    "amount": 123457,
}


def test_a_push_to_a_person_says_what_and_how_much() -> None:
    text = policy_text(NOTICE)
    assert text.startswith("【一码通城】您符合“研发费用补助”（区市场监管局）的条件")
    assert "1234.57 元" in text
    assert "确认领取" in text


def test_a_push_for_an_enterprise_names_it() -> None:
    assert "您的企业“星河科技有限公司”符合“研发费用补助”" in policy_text(NOTICE, "星河科技有限公司")


def test_an_unfunded_payout_is_told_as_such() -> None:
    text = policy_text({**NOTICE, "kind": "unfunded"})
    assert "预算已用完暂未发放" in text
    assert "1234.57 元" in text
    assert "符合" not in text  # not a second invitation


def test_an_unfunded_offer_says_it_will_ask_for_confirmation_and_then_asks() -> None:
    waiting = policy_text({**NOTICE, "kind": "unfunded"})
    assert "预算到位后将通知您确认领取" in waiting  # confirm mode: not "无需申请"
    offered = policy_text({**NOTICE, "kind": "offered"})
    assert "请登录一码通城确认领取" in offered
