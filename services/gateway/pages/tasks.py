"""The supervision board (督办) for staff and supervisors: columns by state, cards that say
their escalation (预警 / 黄牌 / 红牌) in words as well as colour, filters, and a task's
detail with its history and the actions the user's place allows; the API decides."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.gateway.deps import SettingsDep
from services.gateway.downloads import file_response
from services.gateway.pages.api import ApiError
from services.gateway.pages.messages import explain
from services.gateway.pages.render import page
from services.gateway.pages.visit import STAFF, Visit, visit

router = APIRouter(prefix="/tasks")
ONLY_STAFF = "只有工作人员可以查看督办任务"
STATES = {
    "created": "待派发",
    "returned": "已退回",
    "arbitration": "待上级裁定",
    "dispatched": "待签收",
    "accepted": "已签收",
    "in_progress": "办理中",
    "feedback_submitted": "待审核",
    "feedback_rejected": "审核未通过",
    "approved": "已办结",
    "archived": "已办结",  # approved and filed: still findable, apart from closed ones
    "closed": "已关闭",
}
COLUMNS = (
    ("待派发", ("created", "returned", "arbitration")),
    ("办理中", ("dispatched", "accepted", "in_progress", "feedback_rejected")),
    ("待审核", ("feedback_submitted",)),
    ("已办结", ("approved", "archived")),
    ("已关闭", ("closed",)),
)
CARDS = {"warning": "预警", "yellow": "黄牌", "red": "红牌"}
LEVELS = {"normal": "一般", "urgent": "紧急", "critical": "特急"}
ROLLBACK_REASONS = {
    "not_ours": "不属于本单位职责",
    "wrong_jurisdiction": "不属于本辖区",
    "insufficient_information": "信息不全",
    "duplicate": "重复交办",
    "other": "其他",
}
TRANSITIONS = {
    "create": "创建",
    "dispatch": "派发",
    "accept": "签收",
    "start": "开始办理",
    "transfer": "流转",
    "rollback": "回退",
    "feedback": "反馈",
    "approve": "审核通过",
    "reject_feedback": "审核退回",
    "urge": "催办",
    "escalate": "升级亮牌",
    "reassign": "改派",
    "close": "关闭",
}
DONE = {
    "dispatch": "已派发。",
    "accept": "已签收。",
    "start": "已开始办理。",
    "transfer": "已流转。",
    "rollback": "已回退给派发单位。",
    "feedback": "已提交办理结果。",
    "review": "已审核。",
    "urge": "已催办，接收单位会收到提醒。",
}
WITH_RECEIVER = {"dispatched", "accepted", "in_progress", "feedback_rejected"}
RECEIVER_STEPS = {
    "accept": {"dispatched"},
    "start": {"accepted", "feedback_rejected"},
    "transfer": {"accepted", "in_progress"},
    "rollback": {"dispatched", "accepted", "in_progress"},
    "feedback": {"in_progress"},
}


def _under(unit: str | None, path: str | None) -> bool:
    return bool(unit and path and (unit == path or unit.startswith(path + "/")))


def allowed(user: dict[str, Any], task: dict[str, Any]) -> set[str]:
    """The actions to offer this user on this task (as the tasks service decides them)."""
    roles = set(user.get("roles", []))
    org = user.get("org_path")
    staff = bool(roles & {"staff", "supervisor", "admin"})
    supervisor = "supervisor" in roles
    receiver, state = task.get("receiver"), task["status"]
    on_receiver = staff and (org == receiver or (supervisor and _under(receiver, org)))
    on_dispatcher = staff and _under(task.get("dispatcher"), org)
    above = supervisor and receiver and org != receiver and _under(receiver, org)
    transferred = staff and any(
        org == unit or (supervisor and _under(unit, org))
        for unit in task.get("transferred_by") or []
    )
    actions = set()
    if on_dispatcher and state in ("created", "returned", "arbitration"):
        actions.add("dispatch")
    if on_receiver:
        actions |= {a for a, states in RECEIVER_STEPS.items() if state in states}
    if (on_dispatcher or transferred) and state == "feedback_submitted":
        actions.add("review")
    if (on_dispatcher or above) and state in WITH_RECEIVER:
        actions.add("urge")
    return actions


def card_view(task: dict[str, Any]) -> dict[str, Any]:
    return {
        **task,
        "state": STATES.get(task["status"], task["status"]),
        "card_name": CARDS.get(task.get("card") or ""),
        "level_name": LEVELS.get(task.get("level") or "", task.get("level")),
    }


async def unit_names(here: Visit) -> dict[str, str]:
    """The units this user can see, by path (what they may dispatch or transfer to)."""
    try:
        units: list[dict[str, Any]] = await here.api.get("/v1/org-units")
    except ApiError:
        return {}
    return {u["path"]: u["name"] for u in units}


@router.get("", response_class=HTMLResponse)
async def board(
    request: Request,
    settings: SettingsDep,
    card: str = "",
    state: str = "",
    text: str = "",
) -> Response:
    here = (await visit(request, settings)).require(ONLY_STAFF, *STAFF)
    params = {"limit": 200, **{k: v for k, v in (("card", card), ("state", state)) if v}}
    if text:
        params["text"] = text[:100]
    listed = await here.api.get("/v1/tasks", params=params)
    tasks = [card_view(t) for t in listed["items"]]
    columns = [(name, [t for t in tasks if t["status"] in states]) for name, states in COLUMNS]
    return page(
        request,
        "tasks_board.html",
        "督办任务",
        here.user,
        here.session,
        columns=columns,
        filters={"card": card, "state": state, "text": text},
        card_names=CARDS,
        state_names=STATES,
        total=listed.get("total", len(tasks)),
        unit_names=await unit_names(here),
    )


@router.get("/stats", response_class=HTMLResponse)
async def statistics(request: Request, settings: SettingsDep) -> Response:
    """Each unit's figures (its own and its direct subunits'), with bars to compare them."""
    here = (await visit(request, settings)).require(ONLY_STAFF, *STAFF)
    names = await unit_names(here)
    mine = here.user.get("org_path") or ""
    depth = mine.count("/")
    shown = [p for p in names if p == mine or (_under(p, mine) and p.count("/") == depth + 1)]
    rows = []
    for path in shown[:30]:
        try:
            figures = await here.api.get(f"/v1/stats/units/{path}")
        except ApiError:
            continue
        rows.append({**figures, "name": names[path]})
    most = max([1, *(int(r["received"]) for r in rows)])
    return page(
        request, "tasks_stats.html", "单位统计", here.user, here.session, rows=rows, most=most
    )


@router.get("/{task_id}", response_class=HTMLResponse)
async def detail(task_id: str, request: Request, settings: SettingsDep, done: str = "") -> Response:
    here = (await visit(request, settings)).require(ONLY_STAFF, *STAFF)
    return await _detail(request, here, task_id, notice=DONE.get(done))


async def _detail(
    request: Request,
    here: Visit,
    task_id: str,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    task = card_view(await here.api.get(f"/v1/tasks/{task_id}"))
    history = [
        {
            **event,
            "name": TRANSITIONS.get(event["transition"], event["transition"]),
            "state": STATES.get(event.get("to") or "", ""),
            "card_name": CARDS.get(event.get("card") or ""),
        }
        for event in await here.api.get(f"/v1/tasks/{task_id}/history")
    ]
    actions = allowed(here.user, task)
    return page(
        request,
        "task_detail.html",
        task["title"],
        here.user,
        here.session,
        task=task,
        history=history,
        actions=actions,
        unit_names=await unit_names(here),
        reasons=ROLLBACK_REASONS,
        notice=notice,
        error=error,
        status_code=status_code,
    )


@router.get("/{task_id}/attachments/{attachment_id}")
async def attachment(
    task_id: str, attachment_id: str, request: Request, settings: SettingsDep
) -> Response:
    """A file of the task or of its answer, downloaded as itself."""
    here = (await visit(request, settings)).require(ONLY_STAFF, *STAFF)
    task = await here.api.get(f"/v1/tasks/{task_id}")
    files = {f["id"]: f for f in files_of(task)}
    if attachment_id not in files:
        return await _detail(request, here, task_id, error="没有找到这个附件", status_code=404)
    content = await here.api.get(f"/v1/tasks/{task_id}/attachments/{attachment_id}")
    brief = files[attachment_id]
    return file_response(content, str(brief["content_type"]), str(brief["name"]))


def files_of(task: dict[str, Any]) -> list[dict[str, Any]]:
    """The task's own files and those of its answer."""
    answer = task.get("feedback") or {}
    return [*(task.get("attachments") or []), *(answer.get("attachments") or [])]


@router.post("/{task_id}/{action}")
async def act(
    task_id: str,
    action: str,
    request: Request,
    settings: SettingsDep,
    unit: Annotated[str, Form(max_length=200)] = "",
    reason_code: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    text: Annotated[str, Form(max_length=5000)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    decision: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    here = (await visit(request, settings)).require(ONLY_STAFF, *STAFF)
    bodies: dict[str, dict[str, Any]] = {
        "dispatch": {"units": [unit]},
        "accept": {},
        "start": {},
        "transfer": {"unit": unit, "reason": reason or None},
        "rollback": {"reason_code": reason_code, "reason": reason},
        "feedback": {"text": text},
        "review": {"decision": decision, "reason": reason or None},
        "urge": {"note": note or None},
    }
    if action not in bodies:
        return await _detail(request, here, task_id, error="不支持的操作", status_code=404)
    try:
        await here.api.post(f"/v1/tasks/{task_id}/{action}", json=bodies[action])
    except ApiError as error:
        return await _detail(request, here, task_id, error=explain(error), status_code=error.status)
    return RedirectResponse(f"/tasks/{task_id}?done={action}", status_code=303)
