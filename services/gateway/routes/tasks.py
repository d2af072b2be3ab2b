"""The supervision hub (督办): task sources, routing and escalation rules, the working-day
calendar, tasks and their life cycle, history, notices and statistics.

Staff act within their jurisdiction; partner systems (the 12345 hotline, the national
platform) act with client credentials and the ``tasks:write`` / ``tasks:read`` scopes."""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.common.errors import NotFound
from services.gateway.access import operation
from services.gateway.deps import BusDep, CurrentActor, PageDep, StoreDep
from services.gateway.downloads import file_response
from services.gateway.store import GatewayStore

router = APIRouter(tags=["tasks"])


Year = Annotated[int, Path(ge=2000, le=2100, description="a calendar year, 2000 to 2100")]


class Attachment(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    content_type: str = Field(max_length=50)
    content: str = Field(description="base64, at most 512 KiB decoded", max_length=700_000)


class TaskCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=50)
    source: str = Field(default="manual", max_length=40)
    level: Literal["normal", "urgent", "critical"] = "normal"
    matter: str | None = Field(default=None, max_length=100)
    handling_type: str = Field(default="standard", max_length=30)
    description: str | None = Field(default=None, max_length=5000)
    external_id: str | None = Field(
        default=None,
        max_length=100,
        description="the source's own id: the same id never makes two tasks",
    )
    jurisdiction: str | None = Field(default=None, max_length=200)
    units: list[str] | None = Field(
        default=None, max_length=50, description="receiving unit(s); without, routing rules"
    )
    limit: dict[str, Any] | None = Field(
        default=None,
        description='{"due_at": ISO time} | {"working_days": n} | {"working_hours": n}',
    )
    attachments: list[Attachment] = Field(default_factory=list, max_length=5)


class Dispatch(BaseModel):
    units: list[str] = Field(min_length=1, max_length=50)
    limit: dict[str, Any] | None = None


class Transfer(BaseModel):
    unit: str = Field(max_length=200)
    due_at: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=500)


class Rollback(BaseModel):
    reason_code: Literal[
        "not_ours", "wrong_jurisdiction", "insufficient_information", "duplicate", "other"
    ]
    reason: str = Field(min_length=1, max_length=500)


class Feedback(BaseModel):
    text: str = Field(min_length=1, max_length=5000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=5)


class Review(BaseModel):
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=500)


class Urge(BaseModel):
    note: str | None = Field(default=None, max_length=500)


class Reassign(BaseModel):
    unit: str = Field(max_length=200)
    reason: str = Field(min_length=1, max_length=500)


class Close(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class SourceCreate(BaseModel):
    code: str = Field(max_length=40)
    name: str = Field(min_length=1, max_length=100)


class SourceEdit(BaseModel):
    name: str | None = Field(default=None, max_length=100)
    enabled: bool | None = None


class RoutingRule(BaseModel):
    match: dict[str, str] = Field(description="source, category, matter, jurisdiction")
    unit: str = Field(max_length=200)


class LadderRule(BaseModel):
    match: dict[str, str] = Field(default_factory=dict)
    steps: list[dict[str, Any]] = Field(min_length=1, max_length=3)


class CalendarYear(BaseModel):
    holidays: list[str] = Field(default_factory=list, max_length=60)
    working_weekends: list[str] = Field(default_factory=list, max_length=20)
    hours: list[Annotated[list[str], Field(min_length=2, max_length=2)]] | None = Field(
        default=None, max_length=4, description='working hours, e.g. [["09:00", "12:00"]]'
    )


# administration


@router.get(
    "/v1/task-sources",
    summary="Task sources (任务来源)",
    openapi_extra=operation("tasks.list_sources"),
)
async def list_sources(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("tasks", "list_sources")


@router.post(
    "/v1/task-sources",
    status_code=201,
    summary="Add a task source (admin)",
    openapi_extra=operation("tasks.add_source"),
)
async def add_source(body: SourceCreate, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("tasks", "add_source", **body.model_dump())


@router.patch(
    "/v1/task-sources/{code}",
    summary="Rename, enable or disable a source (admin)",
    openapi_extra=operation("tasks.edit_source"),
)
async def edit_source(code: str, body: SourceEdit, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("tasks", "edit_source", code=code, **body.model_dump())


@router.get(
    "/v1/routing-rules",
    summary="Routing rules (自动派单)",
    openapi_extra=operation("tasks.list_routing_rules"),
)
async def list_routing_rules(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("tasks", "list_routing_rules")


@router.post(
    "/v1/routing-rules",
    status_code=201,
    summary="Add a routing rule (supervisor)",
    openapi_extra=operation("tasks.add_routing_rule"),
)
async def add_routing_rule(body: RoutingRule, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("tasks", "add_routing_rule", **body.model_dump())


@router.delete(
    "/v1/routing-rules/{rule_id}",
    status_code=204,
    summary="Remove a routing rule",
    openapi_extra=operation("tasks.delete_routing_rule"),
)
async def delete_routing_rule(rule_id: str, _actor: CurrentActor, bus: BusDep) -> None:
    await bus.call("tasks", "delete_routing_rule", rule_id=rule_id)


@router.get(
    "/v1/escalation-rules",
    summary="The escalation ladder's rules",
    openapi_extra=operation("tasks.list_ladder_rules"),
)
async def list_ladder_rules(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("tasks", "list_ladder_rules")


@router.put(
    "/v1/escalation-rules/{rule_id}",
    summary="Set an escalation rule (admin)",
    openapi_extra=operation("tasks.put_ladder_rule"),
)
async def put_ladder_rule(rule_id: str, body: LadderRule, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("tasks", "put_ladder_rule", rule_id=rule_id, **body.model_dump())


@router.delete(
    "/v1/escalation-rules/{rule_id}",
    summary="Remove an escalation rule of my unit, or (owner) of a unit below it",
    openapi_extra=operation("tasks.delete_ladder_rule"),
)
async def delete_ladder_rule(
    rule_id: str,
    _actor: CurrentActor,
    bus: BusDep,
    owner: Annotated[str | None, Query(max_length=200, description="the rule's unit")] = None,
) -> Any:
    return await bus.call("tasks", "delete_ladder_rule", rule_id=rule_id, owner=owner)


@router.get(
    "/v1/calendar/{year}",
    summary="The working-day calendar of a year",
    openapi_extra=operation("tasks.get_calendar_year"),
)
async def get_calendar(year: Year, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("tasks", "get_calendar_year", year=year)


@router.put(
    "/v1/calendar/{year}",
    summary="Set a year's holidays, 调休 days and hours (admin)",
    openapi_extra=operation("tasks.put_calendar_year"),
)
async def put_calendar(year: Year, body: CalendarYear, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("tasks", "put_calendar_year", year=year, **body.model_dump())


# tasks


async def _known_partners(store: GatewayStore, units: list[str] | None) -> None:
    """A unit ``partner:{client}`` must name a registered partner system (the gateway holds
    them, not the tasks service)."""
    for unit in units or []:
        if unit.startswith("partner:"):
            client = await store.load_partner_client(unit.split(":", 1)[1])
            if client is None or client.get("status") != "active":
                raise NotFound("no such partner system", field="units")


@router.post(
    "/v1/tasks",
    status_code=201,
    summary="Create a task (staff, or a partner system)",
    openapi_extra=operation("tasks.create_task"),
)
async def create_task(body: TaskCreate, _actor: CurrentActor, bus: BusDep, store: StoreDep) -> Any:
    await _known_partners(store, body.units)
    task = await bus.call("tasks", "create_task", **body.model_dump(exclude_none=True))
    if not task.pop("created"):
        return JSONResponse(task, status_code=200)  # the same source and external id again
    return task


@router.get(
    "/v1/tasks",
    summary="Tasks visible to the caller, filtered, paged and sorted",
    openapi_extra=operation("tasks.list_tasks"),
)
async def list_tasks(
    _actor: CurrentActor,
    bus: BusDep,
    page: PageDep,
    state: Annotated[str | None, Query(max_length=30)] = None,
    unit: Annotated[str | None, Query(max_length=200, description="a unit's subtree")] = None,
    source: Annotated[str | None, Query(max_length=40)] = None,
    level: Annotated[str | None, Query(max_length=20)] = None,
    category: Annotated[str | None, Query(max_length=50)] = None,
    card: Annotated[str | None, Query(max_length=10)] = None,
    overdue: bool = False,
    created_from: Annotated[str | None, Query(max_length=40)] = None,
    created_to: Annotated[str | None, Query(max_length=40)] = None,
    due_from: Annotated[str | None, Query(max_length=40)] = None,
    due_to: Annotated[str | None, Query(max_length=40)] = None,
    text: Annotated[str | None, Query(max_length=100)] = None,
    sort: Literal["created", "due", "updated"] = "created",
    order: Literal["asc", "desc"] = "desc",
) -> Any:
    filters = {
        k: v
        for k, v in dict(
            state=state,
            unit=unit,
            source=source,
            level=level,
            category=category,
            card=card,
            overdue=overdue,
            created_from=created_from,
            created_to=created_to,
            due_from=due_from,
            due_to=due_to,
            text=text,
            sort=sort,
            order=order,
        ).items()
        if v not in (None, False)
    }
    return await bus.call(
        "tasks", "list_tasks", filters=filters, limit=page.limit, offset=page.offset
    )


@router.get("/v1/tasks/{task_id}", summary="One task", openapi_extra=operation("tasks.get_task"))
async def get_task(task_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("tasks", "get_task", task_id=task_id)


@router.get(
    "/v1/tasks/{task_id}/history",
    summary="Every step of the task, oldest first",
    openapi_extra=operation("tasks.task_history"),
)
async def task_history(task_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("tasks", "task_history", task_id=task_id)


@router.get(
    "/v1/tasks/{task_id}/attachments/{attachment_id}",
    summary="One attachment, as the file itself (its content type and file name)",
    response_class=Response,
    openapi_extra=operation(
        "tasks.task_attachment",
        responses={
            "200": {
                "description": "the file",
                "content": {
                    kind: {"schema": {"type": "string", "format": "binary"}}
                    for kind in ("application/pdf", "image/png", "image/jpeg", "text/plain")
                },
            }
        },
    ),
)
async def task_attachment(
    task_id: str, attachment_id: str, _actor: CurrentActor, bus: BusDep
) -> Response:
    found = await bus.call("tasks", "task_attachment", task_id=task_id, attachment_id=attachment_id)
    content = base64.b64decode(found["content"])
    return file_response(content, str(found["content_type"]), str(found["name"]))


async def _act(bus: Any, method: str, task_id: str, body: BaseModel | None = None) -> Any:
    fields = body.model_dump(exclude_none=True) if body is not None else {}
    return await bus.call("tasks", method, task_id=task_id, **fields)


@router.post(
    "/v1/tasks/{task_id}/dispatch",
    summary="Dispatch to one unit or several (parallel)",
    openapi_extra=operation("tasks.dispatch_task"),
)
async def dispatch_task(
    task_id: str, body: Dispatch, _actor: CurrentActor, bus: BusDep, store: StoreDep
) -> Any:
    await _known_partners(store, body.units)
    return await _act(bus, "dispatch_task", task_id, body)


@router.post(
    "/v1/tasks/{task_id}/accept",
    summary="The receiving unit accepts (签收)",
    openapi_extra=operation("tasks.accept_task"),
)
async def accept_task(task_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await _act(bus, "accept_task", task_id)


@router.post(
    "/v1/tasks/{task_id}/start",
    summary="Start handling (again after a rejection)",
    openapi_extra=operation("tasks.start_task"),
)
async def start_task(task_id: str, _actor: CurrentActor, bus: BusDep) -> Any:
    return await _act(bus, "start_task", task_id)


@router.post(
    "/v1/tasks/{task_id}/transfer",
    summary="Pass down to a unit below (流转)",
    openapi_extra=operation("tasks.transfer_task"),
)
async def transfer_task(task_id: str, body: Transfer, _actor: CurrentActor, bus: BusDep) -> Any:
    return await _act(bus, "transfer_task", task_id, body)


@router.post(
    "/v1/tasks/{task_id}/rollback",
    summary="Return to the dispatcher (回退)",
    openapi_extra=operation("tasks.rollback_task"),
)
async def rollback_task(task_id: str, body: Rollback, _actor: CurrentActor, bus: BusDep) -> Any:
    return await _act(bus, "rollback_task", task_id, body)


@router.post(
    "/v1/tasks/{task_id}/feedback",
    summary="Submit the result (反馈)",
    openapi_extra=operation("tasks.submit_feedback"),
)
async def submit_feedback(task_id: str, body: Feedback, _actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call(
        "tasks",
        "submit_feedback",
        task_id=task_id,
        text=body.text,
        attachments=[a.model_dump() for a in body.attachments],
    )


@router.post(
    "/v1/tasks/{task_id}/review",
    summary="Approve or reject the feedback (审核)",
    openapi_extra=operation("tasks.review_feedback"),
)
async def review_feedback(task_id: str, body: Review, _actor: CurrentActor, bus: BusDep) -> Any:
    return await _act(bus, "review_feedback", task_id, body)


@router.post(
    "/v1/tasks/{task_id}/urge",
    summary="Urge (催办), at most hourly per unit",
    openapi_extra=operation("tasks.urge_task"),
)
async def urge_task(task_id: str, body: Urge, _actor: CurrentActor, bus: BusDep) -> Any:
    return await _act(bus, "urge_task", task_id, body)


@router.post(
    "/v1/tasks/{task_id}/reassign",
    summary="Move to another unit (supervisor)",
    openapi_extra=operation("tasks.reassign_task"),
)
async def reassign_task(task_id: str, body: Reassign, _actor: CurrentActor, bus: BusDep) -> Any:
    return await _act(bus, "reassign_task", task_id, body)


@router.post(
    "/v1/tasks/{task_id}/close",
    summary="Close a task, with a reason",
    openapi_extra=operation("tasks.close_task"),
)
async def close_task(task_id: str, body: Close, _actor: CurrentActor, bus: BusDep) -> Any:
    return await _act(bus, "close_task", task_id, body)


@router.get(
    "/v1/me/task-notices",
    summary="Notices for my unit (held outside working hours)",
    openapi_extra=operation("tasks.my_notices"),
)
async def my_notices(_actor: CurrentActor, bus: BusDep) -> Any:
    return await bus.call("tasks", "my_notices")


@router.get(
    "/v1/stats/units/{unit:path}",
    summary="A unit's statistics over a period",
    openapi_extra=operation("tasks.unit_stats"),
)
async def unit_stats(
    unit: str,
    _actor: CurrentActor,
    bus: BusDep,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
) -> Any:
    return await bus.call("tasks", "unit_stats", unit=unit, start=start, end=end)
