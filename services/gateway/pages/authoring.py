"""Staff author policies (政策编制): conditions as a form of checks joined by 全部 / 任一, an
amount (fixed, or a rate of a fact with a cap), then simulate (eligible count, cost against
the budget, by area, near misses), publish, start a payout run and watch the ledger."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.gateway.deps import SettingsDep
from services.gateway.pages.api import ApiError
from services.gateway.pages.messages import explain
from services.gateway.pages.policies import OPS, PAYOUT_STATES, proposed_value, yuan
from services.gateway.pages.render import page
from services.gateway.pages.visit import STAFF, Visit, visit

router = APIRouter(prefix="/staff/policies")
ROWS = 5
MODES = {
    "apply": "仅告知（申请制）",
    "push": "推送提醒",
    "confirm": "一键确认后发放",
    "auto": "免申即享（自动发放）",
}
PERIODS = {"once": "一次性", "monthly": "按月", "quarterly": "按季度", "yearly": "按年"}
STATUS = {"draft": "草稿", "published": "已发布", "suspended": "已暂停", "retired": "已废止"}
SUBJECT_TYPES = {"person": "个人", "organisation": "企业"}


def _fen(text: str) -> int | None:
    """Yuan as typed (``1,234.5``) to fen; None when blank."""
    cleaned = text.replace(",", "").strip()
    return None if not cleaned else round(float(cleaned) * 100)


def definition_from_form(form: dict[str, Any]) -> dict[str, Any]:
    """The policy JSON the API takes, from the form's fields (blank check rows are skipped;
    the API validates the rest and names the node it refuses)."""
    checks = []
    for i in range(ROWS):
        fact = str(form.get(f"fact_{i}", "")).strip()
        if not fact:
            continue
        op = str(form.get(f"op_{i}", "=="))
        raw = str(form.get(f"value_{i}", ""))
        check: dict[str, Any] = {
            "fact": fact,
            "op": op,
            "label": str(form.get(f"label_{i}", "")).strip() or fact,
            "clause": str(form.get(f"clause_{i}", "")).strip() or None,
        }
        if op in ("in", "not_in"):
            check["value"] = [proposed_value(v) for v in raw.replace("，", ",").split(",") if v]
        elif op != "exists":
            check["value"] = proposed_value(raw)
        checks.append(check)
    join = "any" if form.get("join") == "any" else "all"
    definition: dict[str, Any] = {
        "code": str(form.get("code", "")).strip(),
        "title": str(form.get("title", "")).strip(),
        "department": str(form.get("department", "")).strip(),
        "category": str(form.get("category", "")).strip() or "general",
        "subject_type": form.get("subject_type"),
        "mode": form.get("mode"),
        "payout_period": form.get("payout_period"),
        "budget": _fen(str(form.get("budget", ""))),
        "conditions": {join: checks},
    }
    kind = form.get("amount_kind")
    if kind == "fixed":
        definition["amount"] = {"fixed": _fen(str(form.get("amount_fixed", ""))) or 0}
    elif kind == "rate":
        definition["amount"] = {
            "rate": float(str(form.get("amount_rate", "0")) or 0) / 100,
            "of": str(form.get("amount_of", "")).strip(),
            "cap": _fen(str(form.get("amount_cap", ""))),
        }
    return definition


def _words(node: Any) -> list[str]:
    """Conditions in plain words, one line per check."""
    if not isinstance(node, dict):
        return []
    for join, name in (("all", "全部满足"), ("any", "满足其一")):
        if join in node:
            inner = [line for child in node[join] for line in _words(child)]
            return [f"{name}："] + [f"　{line}" for line in inner]
    if "not" in node:
        return ["不满足："] + [f"　{line}" for line in _words(node["not"])]
    value = node.get("value", f"参数 {node.get('param')}" if node.get("param") else "")
    if isinstance(value, list):
        value = "、".join(str(v) for v in value)
    clause = f"（{node['clause']}）" if node.get("clause") else ""
    rule = f"{node.get('fact')} {OPS.get(str(node.get('op')), '')} {value}"
    return [f"{node.get('label')}{clause}：{rule}"]


async def _staff(request: Request, settings: SettingsDep) -> Visit:
    here = await visit(request, settings)
    return here.require("只有工作人员可以管理政策", *STAFF)


@router.get("", response_class=HTMLResponse)
async def catalogue(request: Request, settings: SettingsDep) -> Response:
    here = await _staff(request, settings)
    listed = await here.api.get("/v1/policies")
    return page(
        request,
        "staff_policies.html",
        "政策管理",
        here.user,
        here.session,
        policies=[{**p, "status_name": STATUS.get(p["status"], p["status"])} for p in listed],
    )


def _form_page(
    request: Request, here: Visit, form: dict[str, Any], error: str | None, status_code: int
) -> Response:
    return page(
        request,
        "staff_policy_new.html",
        "编制政策",
        here.user,
        here.session,
        form=form,
        rows=range(ROWS),
        ops=OPS,
        modes=MODES,
        periods=PERIODS,
        subject_types=SUBJECT_TYPES,
        error=error,
        status_code=status_code,
    )


@router.get("/new", response_class=HTMLResponse)
async def new(request: Request, settings: SettingsDep) -> Response:
    here = await _staff(request, settings)
    return _form_page(request, here, {}, None, 200)


@router.post("/new", response_class=HTMLResponse)
async def create(request: Request, settings: SettingsDep) -> Response:
    here = await _staff(request, settings)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        definition = definition_from_form(form)
    except ValueError:
        return _form_page(request, here, form, "金额或比例请填写数字", 422)
    try:
        created = await here.api.post("/v1/policies", json=definition)
    except ApiError as error:
        where = f"（{error.field}）" if error.field else ""
        return _form_page(request, here, form, f"{explain(error)}{where}", error.status)
    return RedirectResponse(f"/staff/policies/{created['id']}", status_code=303)


async def _detail(
    request: Request,
    here: Visit,
    policy_id: str,
    status_code: int = 200,
    **shown: Any,
) -> Response:
    policy = await here.api.get(f"/v1/policies/{policy_id}")
    ledger = None
    if policy["status"] != "draft":
        try:
            ledger = await here.api.get(f"/v1/policies/{policy_id}/ledger")
        except ApiError:
            ledger = None
    return page(
        request,
        "staff_policy.html",
        policy["title"],
        here.user,
        here.session,
        policy={
            **policy,
            "status_name": STATUS.get(policy["status"], policy["status"]),
            "mode_name": MODES.get(policy["mode"], policy["mode"]),
            "budget_yuan": yuan(policy.get("budget")),
            "words": _words(policy.get("conditions")),
        },
        ledger=ledger,
        payout_states=PAYOUT_STATES,
        yuan=yuan,
        status_code=status_code,
        **shown,
    )


@router.get("/{policy_id}", response_class=HTMLResponse)
async def detail(policy_id: str, request: Request, settings: SettingsDep) -> Response:
    return await _detail(request, await _staff(request, settings), policy_id)


@router.post("/{policy_id}/{action}", response_class=HTMLResponse)
async def act(
    policy_id: str,
    action: str,
    request: Request,
    settings: SettingsDep,
    period: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    here = await _staff(request, settings)
    try:
        if action == "simulate":
            simulated = await here.api.post(f"/v1/policies/{policy_id}/simulate")
            return await _detail(request, here, policy_id, simulation=simulated)
        if action in ("publish", "suspend", "resume", "retire"):
            changed = await here.api.post(f"/v1/policies/{policy_id}/{action}")
            matched = (changed.get("matched") or {}).get("eligible")
            notice = "已发布" if action == "publish" else "状态已更新"
            if matched is not None:
                notice += f"，当前符合条件 {matched} 个"
            return await _detail(request, here, policy_id, notice=notice + "。")
        if action == "payout-runs":
            run = await here.api.post(
                f"/v1/policies/{policy_id}/payout-runs", json={"period": period.strip()}
            )
            return await _detail(request, here, policy_id, run=run)
    except ApiError as error:
        return await _detail(request, here, policy_id, error.status, error=explain(error))
    return await _detail(request, here, policy_id, 404, error="不支持的操作")
