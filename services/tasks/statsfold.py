"""The statistics read model kept up to date: queued changes folded into the cells.

Every journal event queues its task (``{task}:{rev}``, in the same step that queues the
event for the bus, so a crash loses neither). A **fold** takes a batch of queued tasks,
computes for each ``share(as it is now) - share(as last folded)`` (:mod:`services.tasks.tally`)
and writes the cells' new values. FerretDB has no transactions and its conditional updates
have several winners, so a fold is a numbered **intent** inserted into a unique ``_id``
before anything is written: the values it will set (whole values, not increments), what it
keeps of each task, and the queue entries it consumes. Of two folders only the one whose
insert wins writes; an intent found unfinished is finished by the next folder (its writes
give the same result however often they are applied) once its writer has been silent for
:data:`TAKEOVER`; every document a fold writes carries its number, and a write of an older
fold leaves alone what a later one wrote (a writer that stopped and woke late). So each
change is counted exactly once, whatever stops where.

A question (:func:`snapshot`) reads the cells, adds what is queued but not folded yet, and
checks that no fold began while it read (or finishes, with the intent's values, the one it
found going): what a clerk did a moment ago is in the figures they read now.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from services.common.codec import utcnow
from services.common.document import Document
from services.common.errors import Unavailable
from services.tasks import journal, tally
from services.tasks.store import CELLS_AT_ONCE, Mapper, TaskStore

BATCH = 100  # queued changes per fold
MAX_BATCH = 2000  # per fold while catching up (an intent stays well within 16 MB)
# An unfinished fold older than this is finished by another folder (a fold of MAX_BATCH
# takes some 20 s here; questions are right meanwhile, counting what is queued themselves).
TAKEOVER = timedelta(seconds=120)
KEPT_FOLDS = 1000  # buried folds kept (their numbers stay taken); older ones are removed
PENDING_LIMIT = 500  # queued changes a question adds itself; beyond, it says how many it left
ATTEMPTS = 8


def current_tasks(
    store: TaskStore, queued: list[Document], mapper: Mapper = map
) -> dict[str, Document | None]:
    """Each queued task as it is now (rolled forward where its writer has not finished
    the change that queued it); None for a task that is gone."""
    wanted = sorted({q["task"] for q in queued})
    found = {t["_id"]: t for t in store.load_tasks(wanted, mapper)}
    newest: dict[str, int] = {}
    for entry in queued:
        newest[entry["task"]] = max(newest.get(entry["task"], 0), int(entry.get("rev", 0)))
    tasks: dict[str, Document | None] = {}
    for task_id in wanted:
        task = found.get(task_id)
        if task is not None and int(task.get("rev", 0)) < newest[task_id]:
            task = journal.load(store, task_id)
        tasks[task_id] = task
    return tasks


def kept_facts(store: TaskStore, task_ids: list[str], mapper: Mapper = map) -> dict[str, Any]:
    """What the last fold of each task kept of it (tasks it never folded, or folded gone,
    are absent)."""
    found = store.folded(task_ids, mapper)
    return {k: f["facts"] for k, f in found.items() if f.get("facts") is not None}


def changes(
    tasks: dict[str, Document | None], folded: dict[str, Document]
) -> tuple[tally.Share, dict[str, Document | None]]:
    """What the cells gain from ``tasks`` since ``folded``, and what to keep of each now."""
    delta: tally.Share = Counter()
    kept: dict[str, Document | None] = {}
    for task_id, task in tasks.items():
        now = tally.facts(task) if task is not None else None
        before = folded.get(task_id)
        delta.update(tally.difference(tally.share(now or {}), tally.share(before or {})))
        kept[task_id] = now
    return Counter({key: value for key, value in delta.items() if value}), kept


def fold(
    store: TaskStore,
    now: datetime,
    limit: int = BATCH,
    mapper: Mapper = map,
    clock: Callable[[], datetime] | None = None,
) -> int:
    """Fold up to ``limit`` queued changes; how many were folded (0: none queued, or
    another folder is at it). ``mapper`` runs the reads by ``_id``, as many at once as it
    runs; ``clock``, when given, tells a fold whose reading took too long to write nothing
    (what it read may be stale by then)."""
    number = _settled(store, now, mapper)
    if number is None:
        return 0  # another folder is at it
    queued = store.queued_stats(limit)
    if not queued:
        return 0
    tasks = current_tasks(store, queued, mapper)
    delta, kept = changes(tasks, kept_facts(store, list(tasks), mapper))
    cells = store.load_cells(sorted({cell for cell, _ in delta}), mapper)
    values: dict[tuple[str, str], int | str] = {
        key: tally.value_at(cells.get(key[0]), key[1]) + added for key, added in delta.items()
    }
    values.update(_trimmed(cells, values))
    writes = [
        {"c": cell, "p": path, "v": value if isinstance(value, str) or value > 0 else None}
        for (cell, path), value in sorted(values.items())
    ]
    at = clock() if clock is not None else now
    if at - now > TAKEOVER / 4 or not _is_head(store.fold_head(), number, done=True):
        return 0  # read too slowly, or another folder moved on meanwhile: read again
    intent = {
        "number": number + 1,
        "at": at,
        "writes": writes,
        "folded": [{"task": task_id, "facts": facts} for task_id, facts in kept.items()],
        "queue": [q["_id"] for q in queued],
    }
    if not store.insert_fold(intent):  # fold numbers are never freed (see finish)
        return 0  # another folder took this number first
    _begin(store, intent)
    finish(store, intent)
    return len(queued)


def _is_head(head: Document | None, number: int, *, done: bool) -> bool:
    if head is None:
        return number == 0 and done
    return bool(head["number"] == number and bool(head["done"]) == done)


def _still_mine(store: TaskStore, intent: Document) -> bool:
    """The head still says this fold is under way: a writer that stopped longer than
    :data:`TAKEOVER` and woke, or one whose fold another finished, writes no more."""
    return _is_head(store.fold_head(), int(intent["number"]), done=False)


def _trimmed(
    cells: dict[str, Document], values: dict[tuple[str, str], int | str]
) -> dict[tuple[str, str], int | str]:
    """Each board keeps its :data:`~services.tasks.tally.BOARD_SIZE` newest: the writes
    that drop the older ones and raise the board's floor (:func:`~services.tasks.tally.floor_of`)
    to the newest dropped (below it the board no longer knows every task: a task that joins
    below it is dropped too, and a page reaching below it is read from the tasks themselves)."""
    dropped: dict[tuple[str, str], int | str] = {}
    for board in {cell for cell, _ in values if tally.is_board(cell)}:
        cell = cells.get(board) or {}
        was = floor = tally.floor_of(cell)
        top = dict(cell.get("top") or {})
        for (name, path), value in values.items():
            if name == board and path.startswith("top."):
                top[path[4:]] = value
        kept = tally.newest(top)
        above = tally.newest(top, floor)
        below = [t for t in kept if t not in set(above)]
        if len(above) > tally.BOARD_SIZE:
            below += above[tally.BOARD_SIZE :]
            floor = max(floor, (int(top[above[tally.BOARD_SIZE]]), above[tally.BOARD_SIZE]))
        for task_id in below:
            dropped[(board, f"top.{task_id}")] = 0
        if floor > was:
            dropped[(board, "floor")], dropped[(board, "floor_task")] = floor
    return dropped


def _settled(store: TaskStore, now: datetime, mapper: Mapper = map) -> int | None:
    """The number of the last fold, finished (by this folder if its own writer has been
    silent for :data:`TAKEOVER`); None while another folder is at one."""
    head = store.fold_head()
    number = int(head["number"]) if head is not None else 0
    if head is not None and not head["done"]:
        if now - head["at"] < TAKEOVER:
            return None
        intent = store.load_fold(number)
        if intent is not None and not intent.get("buried"):
            finish(store, intent, replay=mapper)
        else:
            store.put_fold_head({"number": number, "at": head["at"], "done": True})
    while (stray := store.load_fold(number + 1)) is not None:  # a fold the head missed
        if stray.get("buried"):  # finished: the head lost a write
            number += 1
            store.put_fold_head({"number": number, "at": stray["at"], "done": True})
            continue
        if now - stray["at"] < TAKEOVER:
            return None  # inserted a moment ago: its writer is about to say so
        _begin(store, stray)
        finish(store, stray, replay=mapper)
        number += 1
    return number


def _begin(store: TaskStore, intent: Document) -> None:
    """The head says the fold is under way before it writes anything (what a question
    checks, see :func:`snapshot`)."""
    store.put_fold_head({"number": intent["number"], "at": intent["at"], "done": False})


def finish(store: TaskStore, intent: Document, replay: Mapper | None = None) -> None:
    """Write what ``intent`` says, a request at a time, while the head still says it is
    under way; then mark it done and bury it (its number stays taken). ``replay`` (the
    mapper of reads), when finishing another's: what a later fold wrote is left alone."""
    number = int(intent["number"])
    writes, folded = intent["writes"], intent["folded"]
    if replay is not None:
        touched = sorted({w["c"] for w in writes})
        later = {c for c, cell in store.load_cells(touched, replay).items() if cell["v"] > number}
        writes = [w for w in writes if w["c"] not in later]
        found = store.folded([f["task"] for f in folded], replay)
        folded = [f for f in folded if int(found.get(f["task"], {}).get("v", 0)) <= number]
    by_cell: dict[str, tuple[Document, list[str]]] = {}
    for write in writes:
        values, gone = by_cell.setdefault(write["c"], ({}, []))
        if write["v"] is None:
            gone.append(write["p"])
        else:
            values[write["p"]] = write["v"]
    cells = sorted(by_cell)
    for start in range(0, len(cells), CELLS_AT_ONCE):
        if not _still_mine(store, intent):
            return  # taken over (this writer was silent too long) or finished by another
        store.write_cells({c: by_cell[c] for c in cells[start : start + CELLS_AT_ONCE]}, number)
    if not _still_mine(store, intent):
        return
    store.put_folded({f["task"]: f["facts"] for f in folded}, number)
    store.forget_queued_stats(list(intent["queue"]))
    if not _still_mine(store, intent):
        return
    store.put_fold_head({"number": number, "at": intent["at"], "done": True})
    store.bury_fold(number, intent["at"])
    store.forget_fold(number - KEPT_FOLDS)


def fold_all(
    store: TaskStore,
    clock: Callable[[], datetime] = utcnow,
    limit: int = BATCH,
    mapper: Mapper = map,
) -> int:
    """Fold until nothing is queued (or another folder is at it), each fold stamped with
    the time ``clock`` gives (another folder takes over a fold silent too long). While
    batches come full (a backlog: the tasks of a database new to the read model), each is
    twice the last, up to :data:`MAX_BATCH`: the cells a batch touches are shared by its
    tasks, so larger batches write fewer of them per task."""
    total = 0
    while True:
        done = fold(store, clock(), limit, mapper, clock)
        total += done
        if done < limit:
            return total
        limit = min(MAX_BATCH, limit * 2)


RECONCILE_FLUSH = 1000  # queue entries a reconciliation sends at once


def reconcile(store: TaskStore) -> int:
    """Queue every task whose facts are not what the last fold kept of it, and every task
    kept that is gone; how many were queued. This catches what no journal event queued: a
    database new to the read model (every task), and the changes of a process of an older
    version still running in a rolling deploy. It reads what was kept before the tasks, so
    a task changed meanwhile is queued at most once more, which folding makes harmless
    (folding the same state twice adds nothing); it can miss nothing that was written
    before it began. It holds an 8-byte digest of what was kept per task (some 150 MB at a
    million tasks, not the facts themselves) and queues as it goes, a thousand at a time."""
    kept = {str(f["_id"]): _digest(f.get("facts")) for f in store.every_folded()}
    gone = _digest(None)
    queued, entries = 0, []
    for task in store.every_task((*tally.FIELDS, "rev")):
        task_id = str(task["_id"])
        if kept.pop(task_id, gone) != _digest(tally.facts(task)):
            rev = int(task.get("rev") or 0)
            entries.append({"_id": journal.event_id(task_id, rev), "task": task_id, "rev": rev})
        if len(entries) >= RECONCILE_FLUSH:
            queued += store.queue_stats_many(entries)
            entries = []
    for task_id, digest in kept.items():
        if digest != gone:  # counted, and gone since
            entries.append({"_id": f"{task_id}:gone", "task": task_id, "rev": 0})
    return queued + store.queue_stats_many(entries)


def _digest(facts: Any) -> bytes:
    """What a task's facts are, in 8 bytes (equal facts, equal digests: keys sorted)."""
    text = json.dumps(facts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=8).digest()


def reconcile_once_per(store: TaskStore, now: datetime, every: timedelta) -> int | None:
    """The periodic reconciliation, run once per period ``every`` by one replica (the first
    to claim the period: the timer on each replica looks several times a period); None
    where the period is taken."""
    slot = (now - tally.EPOCH) // every
    if not store.claim(f"stats_reconcile:{int(every.total_seconds())}:{slot}", now):
        return None
    return reconcile(store)


RECONCILED = "stats_read_model:v3"  # the claim of the first start that queued every task


def seed(store: TaskStore, _config: Any) -> None:
    """At the first start of this shape of the read model, before the service answers,
    every task is queued (queued first, then marked done: a start that stops between
    queues them again, which changes nothing); until they are folded, a question counts
    what is queued itself, or says how many it left (``uncounted``), and the board reads
    the tasks. Later starts leave it to the hourly reconciliation."""
    if store.claimed(RECONCILED) is None:
        reconcile(store)
        store.claim(RECONCILED, utcnow())


def snapshot(
    store: TaskStore, wanted: Iterable[str], mapper: Mapper = map
) -> tuple[dict[str, Document], int]:
    """The cells ``wanted`` as they are with every queued change counted; and how many
    queued changes were too many to add here (0, unless folding has fallen far behind).
    ``mapper`` runs the reads by ``_id`` (cells, queued tasks, what was kept of them)."""
    ids = sorted(set(wanted))
    for _attempt in range(ATTEMPTS):
        first = store.fold_head()
        cells = store.load_cells(ids, mapper)
        queued = store.queued_stats(PENDING_LIMIT + 1)
        folded_over: dict[str, Document | None] = {}
        under_way = first is not None and not first["done"]
        going = store.load_fold(int(first["number"])) if first and under_way else None
        if going is not None and not going.get("buried"):  # a fold under way: as it will leave them
            for write in going["writes"]:
                if write["c"] in ids:
                    tally.put_path(cells.setdefault(write["c"], {}), write["p"], write["v"])
            gone = set(going["queue"])
            queued = [q for q in queued if q["_id"] not in gone]
            folded_over = {f["task"]: f["facts"] for f in going["folded"]}
        left = max(0, len(queued) - PENDING_LIMIT)
        queued = queued[:PENDING_LIMIT]
        tasks = current_tasks(store, queued, mapper)
        folded = {**kept_facts(store, list(tasks), mapper), **folded_over}
        delta, _kept = changes(tasks, {k: v for k, v in folded.items() if v is not None})
        for (cell, path), added in delta.items():
            if cell in ids:
                place = cells.setdefault(cell, {})
                tally.put_path(place, path, tally.value_at(place, path) + added)
        second = store.fold_head()
        if _same(first, second):
            return cells, left
    raise Unavailable("the statistics are being updated; retry in a moment")


def _same(first: Document | None, second: Document | None) -> bool:
    """No fold began between the two readings (one that was going may have finished)."""
    if first is None or second is None:
        return first is None and second is None
    return bool(first["number"] == second["number"] and (second["done"] or not first["done"]))
