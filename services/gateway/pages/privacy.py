"""Who saw my data (谁看过我的数据) and my proxies (代办人): every scan of my code, every
certificate field shown and to whom, what proxies did in my name and where my phone number
went; who may act for me, and for whom I act."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.gateway.cards import LABELS
from services.gateway.deps import SettingsDep
from services.gateway.pages.api import ApiError
from services.gateway.pages.messages import explain
from services.gateway.pages.render import page
from services.gateway.pages.verifier import SCENES
from services.gateway.pages.visit import Visit, visit

router = APIRouter(prefix="/citizen")
SCAN_RESULTS = {
    "ok": "通过",
    "expired": "已过期",
    "replayed": "重复使用，已拒绝",
    "frozen": "码已冻结，已拒绝",
    "revoked": "已注销",
    "forged": "伪造，已拒绝",
}
SCOPES = {
    "show_code": "代为出示市民码",
    "show_certificates": "代为出示证照",
    "confirm_payouts": "代为确认补贴",
    "apply": "代为办理申请",
}
# What a proxy did, said of the person acted for ("代您…") or by the proxy ("代王建国…").
DONE_FOR = {
    "issue_code": "出示了码",
    "show_code": "出示了码",
    "present": "出示了证照",
    "apply": "提交了申请",
    "confirm_payout": "确认领取了补贴",
    "decline_payout": "放弃了补贴",
}
ACTIONS = {
    "disclosed": "获得了您的信息",  # "短信服务商 获得了您的信息：手机号码，用于…"
    **{action: f"代您{done}" for action, done in DONE_FOR.items()},
}


def what_was_done(item: dict[str, Any]) -> str:
    acted_for = item.get("for")
    if isinstance(acted_for, dict):
        done = DONE_FOR.get(item["action"], "办理了事项")
        return f"代{acted_for.get('name') or '他人'}{done}"
    return ACTIONS.get(item["action"], "办理了事项")


PURPOSES = {
    "policy_pushed": "发送政策推送短信",
    "registration_attempt": "尝试以您的证件号码登记（未成功）",
}
FIELD_NAMES = {
    **LABELS,
    "phone": "手机号码",
    "id_number": "身份证号码",
    "credit_code": "统一社会信用代码",
}


async def _history(here: Visit) -> dict[str, Any]:
    scans = (await here.api.get("/v1/me/scans", params={"limit": 50}))["items"]
    disclosures = await here.api.get("/v1/me/disclosures")
    activity = await here.api.get("/v1/me/activity")
    types = {t["code"]: t["names"]["zh"] for t in await here.api.get("/v1/certificate-types")}
    return {
        "scans": [
            {
                **s,
                "scene_name": SCENES.get(s["scene"], s["scene"]),
                "result_text": SCAN_RESULTS.get(s["result"], s["result"]),
            }
            for s in scans
        ],
        "disclosures": [
            {
                **d,
                "type_name": types.get(d["type"], d["type"]),
                "purpose_name": SCENES.get(str(d.get("purpose")), d.get("purpose")),
                "field_names": [FIELD_NAMES.get(f, f) for f in d.get("fields") or []],
            }
            for d in disclosures
        ],
        "activity": [
            {
                **a,
                "what": what_was_done(a),
                "purpose": PURPOSES.get(str((a.get("detail") or {}).get("purpose")), ""),
                "field_names": [
                    FIELD_NAMES.get(f, f) for f in (a.get("detail") or {}).get("fields") or []
                ],
            }
            for a in activity
        ],
    }


@router.get("/privacy", response_class=HTMLResponse)
async def who_saw_my_data(request: Request, settings: SettingsDep) -> Response:
    here = await visit(request, settings)
    return page(
        request,
        "citizen_privacy.html",
        "谁看过我的数据",
        here.user,
        here.session,
        **await _history(here),
    )


PROXY_STATES = {
    "pending": "等待对方同意",
    "active": "有效",
    "declined": "对方已拒绝",
    "revoked": "已撤销",
}


async def _proxies_page(
    request: Request,
    here: Visit,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    listed = await here.api.get("/v1/me/proxies")
    return page(
        request,
        "citizen_proxies.html",
        "代办人",
        here.user,
        here.session,
        acting_for_me=listed["acting_for_me"],
        asking_me=[d for d in listed["i_act_for"] if d["status"] == "pending"],
        i_act_for=[d for d in listed["i_act_for"] if d["status"] == "active"],
        scopes=SCOPES,
        states=PROXY_STATES,
        today=date.today().isoformat(),
        notice=notice,
        error=error,
        status_code=status_code,
    )


@router.get("/proxies", response_class=HTMLResponse)
async def proxies(request: Request, settings: SettingsDep, done: str = "") -> Response:
    here = await visit(request, settings)
    notice = {
        "added": "已发出授权请求，等对方同意后生效。",
        "revoked": "已撤销授权。",
        "accepted": "已同意代办。",
        "declined": "已拒绝代办请求。",
    }.get(done)
    return await _proxies_page(request, here, notice=notice)


@router.post("/proxies")
async def authorize(
    request: Request,
    settings: SettingsDep,
    proxy_name: Annotated[str, Form(max_length=100)] = "",
    proxy_id_number: Annotated[str, Form(max_length=32)] = "",
    scope: Annotated[list[str] | None, Form(max_length=4)] = None,
    valid_until: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    here = await visit(request, settings)
    if not proxy_name.strip() or not proxy_id_number.strip() or not scope or not valid_until:
        return await _proxies_page(
            request, here, error="请填写代办人姓名、身份证号、授权事项和截止日期", status_code=422
        )
    body = {
        "proxy_name": proxy_name.strip(),
        "proxy_id_number": proxy_id_number.strip(),
        "scopes": scope,
        "valid_until": f"{valid_until}T23:59:59+08:00",
    }
    try:
        await here.api.post("/v1/me/proxies", json=body)
    except ApiError as error:
        return await _proxies_page(request, here, error=explain(error), status_code=error.status)
    return RedirectResponse("/citizen/proxies?done=added", status_code=303)


@router.post("/proxies/{delegation_id}/revoke")
async def revoke(
    delegation_id: str,
    request: Request,
    settings: SettingsDep,
) -> Response:
    here = await visit(request, settings)
    try:
        await here.api.call("DELETE", f"/v1/me/proxies/{delegation_id}")
    except ApiError as error:
        return await _proxies_page(request, here, error=explain(error), status_code=error.status)
    return RedirectResponse("/citizen/proxies?done=revoked", status_code=303)


@router.post("/proxies/{delegation_id}/{answer}")
async def answer(
    delegation_id: str,
    answer: Literal["accept", "decline"],
    request: Request,
    settings: SettingsDep,
) -> Response:
    here = await visit(request, settings)
    try:
        await here.api.post(f"/v1/me/proxies/{delegation_id}/{answer}")
    except ApiError as error:
        return await _proxies_page(request, here, error=explain(error), status_code=error.status)
    done = "accepted" if answer == "accept" else "declined"
    return RedirectResponse(f"/citizen/proxies?done={done}", status_code=303)
