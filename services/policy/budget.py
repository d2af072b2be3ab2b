"""The budget of a policy, reserved payout by payout in a chain of entries.

Entry ``n`` of a policy's chain (``{code}:{n:08d}``, a unique ``_id``) records one payout's
amount and the running total after it. Whoever inserts entry ``n`` reserves; a second writer
for the same ``n`` gets a duplicate key and tries ``n + 1`` with the new total. The total
never passes the budget, to the fen, whatever the concurrency, on MongoDB and on FerretDB
alike (an insert into a unique key is the one write both make atomic).
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.mongo import Document


def entry_id(code: str, n: int) -> str:
    return f"{code}:{n:08d}"


def reserve(
    db: Database[Document],
    now: datetime,
    code: str,
    budget: int | None,
    payout_id: str,
    amount: int,
) -> int | None:
    """The chain position reserved for ``payout_id`` (the one it already holds, if the walk
    meets it), or None when the amount no longer fits the budget."""
    head = db.budget_heads.find_one({"_id": code})
    n = int(head["next"]) if head else 0
    while True:
        entry = db.budget_chain.find_one({"_id": entry_id(code, n)})
        if entry is not None:
            if entry["payout"] == payout_id:
                return n
            n += 1
            continue
        before = 0
        if n > 0:
            previous = db.budget_chain.find_one({"_id": entry_id(code, n - 1)})
            if previous is None:  # the hint ran ahead of a write still in flight: step back
                n -= 1
                continue
            before = int(previous["total"])
        if budget is not None and before + amount > budget:
            return None
        try:
            db.budget_chain.insert_one(
                {
                    "_id": entry_id(code, n),
                    "code": code,
                    "payout": payout_id,
                    "amount": amount,
                    "total": before + amount,
                    "at": now,
                }
            )
        except DuplicateKeyError:
            continue  # someone took n first: look at it again
        with contextlib.suppress(DuplicateKeyError):  # a hint: may lag, never leads
            db.budget_heads.replace_one({"_id": code}, {"next": n + 1}, upsert=True)
        return n


def find_reservation(db: Database[Document], code: str, payout_id: str) -> int | None:
    """Recovery only (a runner stopped between reserving and recording it): a scan."""
    entry = db.budget_chain.find_one({"code": code, "payout": payout_id})
    return None if entry is None else int(entry["_id"].rsplit(":", 1)[1])


def reserved_total(db: Database[Document], code: str) -> int:
    head = db.budget_heads.find_one({"_id": code})
    n = int(head["next"]) if head else 0
    while db.budget_chain.find_one({"_id": entry_id(code, n)}) is not None:
        n += 1
    last = db.budget_chain.find_one({"_id": entry_id(code, n - 1)}) if n else None
    return int(last["total"]) if last else 0
