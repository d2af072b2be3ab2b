"""My policies (我的政策), for citizens and for the people who act for an enterprise: payouts
waiting for one click (一键确认) or declined, what has been paid, the policies pushed to me,
every published policy with each condition explained in plain words, and correcting a fact
the city holds about me (自主校正)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.gateway.deps import SettingsDep
from services.gateway.pages.api import ApiError
from services.gateway.pages.messages import explain, in_words
from services.gateway.pages.render import page
from services.gateway.pages.visit import Visit, visit

router = APIRouter(prefix="/my")
PAYOUT_STATES = {
    "new": "处理中",
    "offered": "待您确认",
    "disbursing": "发放中",
    "paid": "已到账",
    "failed": "发放失败，工作人员将跟进",
    "declined": "已放弃",
    "expired": "已过期未确认",
}
VERDICTS = {"yes": "符合", "no": "不符合", "unknown": "信息不全，暂无法判断"}
OPS = {
    "==": "等于",
    "!=": "不等于",
    "<": "小于",
    "<=": "不超过",
    ">": "大于",
    ">=": "不低于",
    "in": "属于",
    "not_in": "不属于",
    "contains": "包含",
    "exists": "已登记",
}
DONE = {
    "confirm": "已确认领取，款项发放后状态会变为“已到账”。",
    "decline": "已放弃该笔补贴。",
    "dispute": "校正申请已提交，工作人员审核后会告知结果。",
}


def yuan(fen: Any) -> str:
    return f"{int(fen) / 100:,.2f} 元" if isinstance(fen, int) else "—"


def _value(value: Any) -> str:
    return in_words(value, missing="未登记")


def condition(check: dict[str, Any]) -> dict[str, Any]:
    """One check in plain words, its state said in text as well as shown by its mark."""
    state = {True: "已满足", False: "未满足", None: "缺少信息"}[check["met"]]
    mark = {True: "✓", False: "✗", None: "?"}[check["met"]]
    required = "" if check["op"] == "exists" else _value(check["required"])
    return {
        "label": check["label"],
        "clause": check.get("clause"),
        "state": state,
        "mark": mark,
        "css": {True: "met", False: "unmet", None: "unknown"}[check["met"]],
        "yours": _value(check.get("value")),
        "rule": f"{OPS.get(check['op'], check['op'])} {required}".strip(),
        "fact": check["fact"],
    }


def match_view(match: dict[str, Any]) -> dict[str, Any]:
    checks = [condition(c) for c in match["checks"]]
    met = sum(1 for c in match["checks"] if c["met"] is True)
    return {
        "title": match["title"],
        "code": match["code"],
        "verdict": VERDICTS[match["eligible"]],
        "eligible": match["eligible"],
        "met": met,
        "total": len(checks),
        "near_miss": match.get("near_miss"),
        "amount": yuan(match.get("amount")) if match.get("amount") else None,
        "checks": checks,
    }


def proposed_value(text: str) -> Any:
    """What a person types, as the fact's value: a number, yes / no, or text."""
    cleaned = text.strip()
    for parse in (int, float):
        try:
            return parse(cleaned)
        except ValueError:
            continue
    return {"是": True, "否": False}.get(cleaned, cleaned)


async def overview(here: Visit) -> dict[str, Any]:
    matches = await here.api.get("/v1/me/matches")
    inbox = await here.api.get("/v1/me/inbox")
    payouts = await here.api.get("/v1/me/payouts")
    corrections = await here.api.get("/v1/me/fact-corrections")
    titles = {m["code"]: m["title"] for m in [*inbox, *matches]}
    drawn = [
        {
            **p,
            "title": titles.get(p["code"], p["code"]),
            "state": PAYOUT_STATES.get(p["status"], p["status"]),
            "yuan": yuan(p["amount"]),
        }
        for p in payouts
    ]
    labels: dict[str, list[str]] = {}  # each fact named by the conditions that read it
    for m in matches:
        for c in m["checks"]:
            named = labels.setdefault(c["fact"], [])
            if c["label"] not in named:
                named.append(c["label"])
    facts = {fact: " / ".join(sorted(named)) for fact, named in labels.items()}
    return {
        "offers": [p for p in drawn if p["status"] == "offered"],
        "payouts": drawn,
        "inbox": inbox,
        "matches": [match_view(m) for m in matches],
        "facts": sorted(facts.items(), key=lambda item: item[1]),
        "fact_names": facts,
        "subjects": sorted({m["subject"] for m in matches}),
        "corrections": corrections,
    }


@router.get("/policies", response_class=HTMLResponse)
async def my_policies(request: Request, settings: SettingsDep, done: str = "") -> Response:
    here = await visit(request, settings)
    return page(
        request,
        "my_policies.html",
        "我的政策",
        here.user,
        here.session,
        notice=DONE.get(done),
        **await overview(here),
    )


async def _refused(request: Request, here: Visit, message: str, status_code: int) -> Response:
    return page(
        request,
        "my_policies.html",
        "我的政策",
        here.user,
        here.session,
        error=message,
        status_code=status_code,
        **await overview(here),
    )


@router.post("/payouts/{payout_id}/{answer}")
async def answer_payout(
    payout_id: str,
    answer: str,
    request: Request,
    settings: SettingsDep,
) -> Response:
    here = await visit(request, settings)
    if answer not in ("confirm", "decline"):
        return await _refused(request, here, "不支持的操作", 404)
    try:
        await here.api.post(f"/v1/me/payouts/{payout_id}/{answer}")
    except ApiError as error:
        return await _refused(request, here, explain(error), error.status)
    return RedirectResponse(f"/my/policies?done={answer}", status_code=303)


@router.post("/fact-corrections")
async def dispute(
    request: Request,
    settings: SettingsDep,
    fact: Annotated[str, Form(max_length=40)] = "",
    proposed: Annotated[str, Form(max_length=200)] = "",
    evidence: Annotated[str, Form(max_length=2000)] = "",
    subject: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    here = await visit(request, settings)
    if not fact or not proposed.strip() or not evidence.strip():
        return await _refused(request, here, "请选择要校正的信息，填写正确的值和依据", 422)
    body = {
        "fact": fact,
        "proposed": proposed_value(proposed),
        "evidence": evidence,
        "subject": subject or None,
    }
    try:
        await here.api.post("/v1/me/fact-corrections", json=body)
    except ApiError as error:
        return await _refused(request, here, explain(error), error.status)
    return RedirectResponse("/my/policies?done=dispute", status_code=303)
