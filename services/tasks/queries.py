"""Reading tasks: the list with filters (a unit sees what it dispatched or received and
everything below it), one task, its history, the notices left for a unit."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from services.common.access import Guard
from services.common.codec import parse_time, to_wire
from services.common.document import Document
from services.common.errors import InvalidInput, NotFound, Unavailable
from services.tasks import journal, statsfold, tally
from services.tasks.lifecycle import LEVELS, OPEN
from services.tasks.store import PARTNER_PREFIX, Board, Mapper, TaskStore
from services.tasks.views import task_view
from services.tasks.work import Work

SORTS = {"created": "created_at", "due": "due_at", "updated": "updated_at"}
CARDS = ("none", "warning", "yellow", "red")


def _scope(guard: Guard, unit: str | None) -> dict[str, str | None]:
    """A partner system sees the tasks it created or was sent; staff, their jurisdiction's
    (or the subtree of a unit in it)."""
    actor = guard.actor
    if actor.client_id:
        guard.done()
        return {"partner": actor.client_id}
    if unit is None:
        root = guard.reach()
        if root is None:
            raise NotFound("no such org unit", field="unit")
        return {"reach": root or None}
    if not guard.within_reach(unit):
        raise NotFound("no such org unit", field="unit")
    return {"reach": unit}


def _one_of(filters: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    value = filters.get(key) or None
    if value is not None and value not in allowed:
        raise InvalidInput(f"one of {', '.join(allowed)}", field=key)
    return value


def _time(filters: dict[str, Any], key: str) -> datetime | None:
    return parse_time(filters[key], key) if filters.get(key) else None


def list_tasks(
    work: Work, filters: dict[str, Any], *, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    state = filters.get("state") or None
    overdue = bool(filters.get("overdue"))
    text = filters.get("text") or None
    if text is not None and len(text) > 100:
        raise InvalidInput("at most 100 characters", field="text")
    sort = filters.get("sort", "created")
    if sort not in SORTS:
        raise InvalidInput(f"one of {', '.join(SORTS)}", field="sort")
    board = Board(
        **_scope(work.guard, filters.get("unit")),
        statuses=(state,) if state else tuple(sorted(OPEN)) if overdue else (),
        source=filters.get("source") or None,
        category=filters.get("category") or None,
        level=_one_of(filters, "level", LEVELS),
        card=_one_of(filters, "card", CARDS),
        due_before=work.now if overdue else None,
        created_from=_time(filters, "created_from"),
        created_to=_time(filters, "created_to"),
        due_from=_time(filters, "due_from"),
        due_to=_time(filters, "due_to"),
        title_contains=text,
        sort=SORTS[sort],
        descending=filters.get("order", "desc") == "desc",
        offset=offset,
        limit=limit,
    )
    found = _from_read_model(work.store, board, work.mapper)
    tasks = found if found is not None else work.store.board(board)
    return {"items": [task_view(t) for t in tasks], "limit": limit, "offset": offset}


PLAIN = Board()  # no filter, newest first: what the board's cell answers


def _from_read_model(store: TaskStore, board: Board, mapper: Mapper = map) -> list[Document] | None:
    """The page from the board's cell (:mod:`services.tasks.tally`), read by ``_id``: when
    the list is the plain one (newest first, no filter) and the cell holds the page; None
    for any other list, or while the cell cannot say (read from the tasks themselves)."""
    plain = replace(board, reach=None, partner=None, offset=0, limit=PLAIN.limit)
    if plain != PLAIN or (board.reach or "").startswith((tally.EVERY, PARTNER_PREFIX)):
        return None
    if board.partner is not None:
        scope = tally.partner_scope(board.partner)
    else:
        scope = board.reach or tally.EVERY
    cell_id = tally.board_id(scope)
    try:
        cells, left = statsfold.snapshot(store, [cell_id], mapper)
    except Unavailable:
        return None  # folds keep starting while it reads: the tasks answer instead
    cell = cells.get(cell_id) or {}
    floor = tally.floor_of(cell)
    ids = tally.newest(cell.get("top") or {}, floor)
    end = board.offset + board.limit
    if left or (len(ids) < end and floor != tally.NO_FLOOR):
        return None
    page = store.load_tasks(ids[board.offset : end], mapper)
    if any(cell_id not in tally.boards_of(task) for task in page):
        return None  # one changed since: the tasks answer
    return page


def history(store: TaskStore, task: Document) -> list[dict[str, Any]]:
    return [journal.history_view(e) for e in journal.history(store, task)]


def notices_for(work: Work, limit: int = 50) -> list[dict[str, Any]]:
    """The notices delivered to the caller's unit by now (those held for working hours wait)."""
    actor = work.guard.actor
    if actor.org_path is None:
        return []
    return [
        to_wire({k: n.get(k) for k in ("task", "kind", "text", "at", "deliver_at")})
        for n in work.store.notices_for(actor.org_path, work.now, limit)
    ]
