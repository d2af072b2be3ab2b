"""policy's one door to its database: the only module of policy that names its collections
(the shared helpers of :mod:`services.common` it calls, claims and the outbox, keep theirs).

Methods are named for what the service does with them. The FerretDB rules live here: a
write that must happen once is an insert into a unique ``_id`` (a payout per policy, period
and subject; a budget chain entry; an inbox message; a claim), a batch of them one
unordered insert that counts the ids already there; compare-and-set goes through a claimed
revision (:func:`services.common.claims.advance`); hot reads are by ``_id`` (a subject's
facts, a payout, the catalogue of published policies), and listings are bounded. The
indexes serve the reads that are not by ``_id`` on MongoDB; FerretDB keeps them too but
scans for those filters.

:class:`PolicyStore` works on the real database; unit tests of the domain run on an
in-memory implementation of the same methods (``tests/unit/policy/memory_store.py``), and
the integration layer tries every method here on FerretDB
(``tests/integration/policy/test_store.py``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from pymongo import ReplaceOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.common import claims, outbox
from services.common.document import Document
from services.common.mongo import Index, put_document, racing_bulk_upsert
from services.common.store import ServiceStore, inserted

INDEXES = (
    outbox.INDEX,
    Index("policies", [("code", 1), ("version", 1)], unique=True),
    Index("policies", [("status", 1)]),
    Index("facts", [("kind", 1), ("org_path", 1)]),
    Index("matches", [("policy", 1), ("eligible", 1), ("org_path", 1)]),
    Index("inbox", [("subject", 1), ("at", -1)]),
    # One budget entry per name (a payout, a block, a refund): a second is found, not added.
    Index("budget_chain", [("code", 1), ("payout", 1)], unique=True),
)
DUPLICATE_KEY = 11000


def budget_entry_id(code: str, n: int) -> str:
    """Entry ``n`` of a policy's budget chain."""
    return f"{code}:{n:08d}"


class PolicyStore(ServiceStore):
    # claims (claim, claimed, release_claim and events: ServiceStore)

    def repoint_claim(self, key: str, **detail: Any) -> None:
        """Change what a claim records (not who holds it)."""
        self.database[claims.CLAIMS].update_one({"_id": key}, {"$set": detail})

    def claim_committing(self, key: str, now: datetime, *events: outbox.Event) -> bool:
        """Claim ``key``; the claim commits ``events`` (they leave if and only if it is
        new). True for exactly one caller."""
        self.stage_events(now, outbox.Commit(claims.CLAIMS, key), *events)
        return self.claim(key, now)

    # policies and their versions

    def load_policy(self, policy_id: str, fields: Document | None = None) -> Document | None:
        return self.database.policies.find_one({"_id": policy_id}, fields)

    def insert_policy(self, policy: Document) -> bool:
        """False when that version of the code exists (a unique key)."""
        return inserted(self.database.policies, policy)

    def policies(self, status: str | None = None) -> list[Document]:
        """Every policy (of ``status``, if given), by code and version."""
        query: Document = {"status": status} if status else {}
        return list(self.database.policies.find(query).sort([("code", 1), ("version", 1)]))

    def versions_of(self, code: str, statuses: Sequence[str] | None = None) -> list[Document]:
        """The versions of a policy code (in ``statuses``, if given)."""
        query: Document = {"code": code}
        if statuses is not None:
            query["status"] = {"$in": list(statuses)}
        return list(self.database.policies.find(query))

    def versions_spelled(self, code: str, fields: Document | None = None) -> list[Document]:
        """The versions of ``code`` however its case was typed (codes stored before they were
        one code in lower case)."""
        spelled = {"$regex": f"^{re.escape(code)}$", "$options": "i"}
        return list(self.database.policies.find({"code": spelled}, fields))

    def advance_policy(self, policy: Document, update: Document, now: datetime) -> Document:
        """Compare-and-set on the policy's revision (a lost race is a Conflict)."""
        return claims.advance(self.database, "policies", policy, update, now)

    def published_policies(self) -> list[Document]:
        """Every published policy's id, subject type and the facts it reads."""
        fields = {"subject_type": 1, "reads": 1}
        return list(self.database.policies.find({"status": "published"}, fields))

    # the catalogue of published policies: one document per subject kind, read by _id

    def write_catalogue(self, kind: str, entries: list[Document], revision: str) -> None:
        """The listing of ``kind``, then its revision (written after it, so a reader never
        pairs a new revision with an old listing)."""
        listing = {"policies": entries}
        put_document(self.database.published, f"published:{kind}", listing)
        put_document(self.database.published, f"published-rev:{kind}", {"rev": revision})

    def catalogue_revision(self, kind: str) -> str | None:
        found = self.database.published.find_one({"_id": f"published-rev:{kind}"})
        return None if found is None else str(found["rev"])

    def catalogue_entries(self, kind: str) -> list[Document]:
        found = self.database.published.find_one({"_id": f"published:{kind}"})
        return [] if found is None else list(found["policies"])

    # facts about subjects: one document per subject

    def load_facts(self, subject: str) -> Document | None:
        return self.database.facts.find_one({"_id": subject})

    def insert_facts(self, document: Document) -> bool:
        """False when the subject has a facts document."""
        return inserted(self.database.facts, document)

    def advance_facts(self, document: Document, update: Document, now: datetime) -> Document:
        """Compare-and-set on the subject's revision (a lost race is a Conflict)."""
        return claims.advance(self.database, "facts", document, update, now)

    def subjects_of_kind(self, kind: str) -> Iterator[Document]:
        """Every subject's facts document of ``kind`` (``person``, ``organisation``), read as
        it is consumed."""
        yield from self.database.facts.find({"kind": kind})

    def load_fact_batch(self, key: str) -> Document | None:
        return self.database.fact_batches.find_one({"_id": key})

    def record_fact_batch(self, batch: Document) -> None:
        """Kept once by its key (the first report stays)."""
        inserted(self.database.fact_batches, batch)

    def load_fact_kind(self, name: str) -> Document | None:
        return self.database.fact_kinds.find_one({"_id": name})

    def fact_kinds(self, limit: int) -> list[Document]:
        """Declared fact kinds by name."""
        return list(self.database.fact_kinds.find({}).sort("_id", 1).limit(limit))

    def insert_fact_kind(self, kind: Document) -> bool:
        """False when the name is declared."""
        return inserted(self.database.fact_kinds, kind)

    # what identity and certs told us

    def subjects_cursor(self) -> str:
        """The last subject learnt from identity's listing ("" before the first)."""
        found = self.database.sync_state.find_one({"_id": "subjects"}) or {"after": ""}
        return str(found["after"])

    def move_subjects_cursor(self, after: str, caught_up: bool = False) -> None:
        """``caught_up``: identity's listing ended there (its events tell the rest)."""
        put_document(self.database.sync_state, "subjects", {"after": after, "caught_up": caught_up})

    def subjects_caught_up(self) -> bool:
        found = self.database.sync_state.find_one({"_id": "subjects"}) or {}
        return bool(found.get("caught_up"))

    def load_cert_order(self, key: str) -> Document | None:
        """What the events of a subject's certificates of one type said (``subject:type``)."""
        return self.database.cert_order.find_one({"_id": key})

    def insert_cert_order(self, entry: Document) -> bool:
        """False when another replica wrote the first entry."""
        return inserted(self.database.cert_order, entry)

    def advance_cert_order(self, entry: Document, update: Document, now: datetime) -> Document:
        """Compare-and-set on the entry's revision (a lost race is a Conflict)."""
        return claims.advance(self.database, "cert_order", entry, update, now)

    # matches

    def put_matches(self, matches: Sequence[Document]) -> None:
        """Each (policy, subject) match replaced whole, by ``_id``, in one batch."""
        writes = [ReplaceOne({"_id": m["_id"]}, m, upsert=True) for m in matches]
        if writes:
            racing_bulk_upsert(self.database.matches, writes)

    def eligible_matches(self, policy_id: str) -> list[Document]:
        """The subjects a policy matched as eligible."""
        return list(self.database.matches.find({"policy": policy_id, "eligible": "yes"}))

    # the inbox of pushed policies

    def deliver_message(self, message: Document, now: datetime, *events: outbox.Event) -> bool:
        """Insert the message, which commits ``events``; False if it was there."""
        self.stage_events(now, outbox.Commit("inbox", message["_id"]), *events)
        return inserted(self.database.inbox, message)

    def messages_for(self, subjects: list[str], limit: int) -> list[Document]:
        """The newest first."""
        found = self.database.inbox.find({"subject": {"$in": subjects}}).sort("at", -1)
        return list(found.limit(limit))

    def push_mark(self, mark_id: str) -> Document | None:
        """What a subject was last told of a policy code (its version and amount)."""
        return self.database.push_marks.find_one({"_id": mark_id})

    def put_push_mark(self, mark: Document) -> None:
        with contextlib.suppress(DuplicateKeyError):  # two versions at once: either will do
            self.database.push_marks.replace_one({"_id": mark["_id"]}, mark, upsert=True)

    # payouts: one per (policy code, period, subject), a unique _id

    def load_payout(self, payout_id: str, fields: Document | None = None) -> Document | None:
        return self.database.payouts.find_one({"_id": payout_id}, fields)

    def insert_payouts(self, payouts: Sequence[Document]) -> set[str]:
        """Insert a batch at once (unordered); the ids inserted. A payout whose ``_id`` is
        taken (a retried run, two runs at once) was there already and stays as it is."""
        if not payouts:
            return set()
        try:
            self.database.payouts.insert_many(list(payouts), ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            there = {int(error["index"]) for error in errors}
            return {str(p["_id"]) for i, p in enumerate(payouts) if i not in there}
        return {str(p["_id"]) for p in payouts}

    def advance_payout(
        self,
        payout: Document,
        update: Document,
        now: datetime,
        events: Iterable[outbox.Event] = (),
    ) -> Document:
        """Compare-and-set on the payout's revision; the claim commits ``events`` (a lost
        race is a Conflict)."""
        return claims.advance(self.database, "payouts", payout, update, now, events=list(events))

    def unfunded_subjects(self, code: str, period: str) -> set[str]:
        """The subjects whose payout of the period waits for money."""
        query = {"code": code, "period": period, "status": "unfunded"}
        return {str(p["subject"]) for p in self.database.payouts.find(query, {"subject": 1})}

    def payouts_of(
        self,
        code: str,
        status: str | None = None,
        period: str | None = None,
        fields: Document | None = None,
    ) -> Iterator[Document]:
        """A policy code's payouts (in ``status``, of ``period``, if given), by id."""
        query: Document = {"code": code}
        if status is not None:
            query["status"] = status
        if period is not None:
            query["period"] = period
        yield from self.database.payouts.find(query, fields).sort("_id", 1)

    def payouts_of_subjects(self, subjects: list[str], limit: int) -> list[Document]:
        """The newest first."""
        found = self.database.payouts.find({"subject": {"$in": subjects}})
        return list(found.sort("created_at", -1).limit(limit))

    def failed_payouts(self, limit: int) -> list[Document]:
        """Failed payouts not yet flagged to staff (retried with backoff)."""
        query = {"status": "failed", "flagged": False}
        return list(self.database.payouts.find(query).limit(limit))

    def disbursing_payouts(self, limit: int) -> list[Document]:
        return list(self.database.payouts.find({"status": "disbursing"}).limit(limit))

    def open_offers(self, limit: int) -> list[Document]:
        """Offered payouts, answered or expired or not."""
        return list(self.database.payouts.find({"status": "offered"}).limit(limit))

    def payouts_by_state(self) -> list[tuple[str, int, int]]:
        """(state, count, fen) across every policy, by state. One sum per aggregation:
        FerretDB 1.24 answers 0 for every ``$sum`` of a ``$group`` after its first."""

        def summed(value: Any) -> dict[str, int]:
            grouped = self.database.payouts.aggregate(
                [{"$group": {"_id": "$status", "sum": {"$sum": value}}}]
            )
            return {str(g["_id"]): int(g["sum"]) for g in grouped}

        counts, fen = summed(1), summed("$amount")
        return [(state, counts[state], fen.get(state, 0)) for state in sorted(counts)]

    # payout runs: one at a time per policy code (the budget is the code's)
    #
    # A run holds ``payout_runs/{code}`` while it goes, renewing it batch by batch with the
    # block it is about to reserve; a holder silent for longer than the takeover delay is
    # taken to have stopped, and the next run takes the lease over with what it recorded.
    # The collection holds one small document per code that is running, so the filters on
    # ``holder`` scan a handful of documents.

    def take_run(
        self, code: str, holder: str, now: datetime, stale_before: datetime
    ) -> Document | None:
        """The lease of ``code``'s runs, now ``holder``'s (new, or taken over from a holder
        silent since before ``stale_before``: then it keeps what that one recorded, as
        ``left``); None while a live run holds it."""
        runs = self.database.payout_runs
        if inserted(runs, {"_id": code, "holder": holder, "at": now, "block": None}):
            return {"_id": code, "holder": holder, "at": now, "block": None, "left": None}
        held = runs.find_one({"_id": code})
        if held is None or held["at"] >= stale_before:
            return None  # a live run (or one that ended this instant: try again)
        taken = runs.update_one(
            {"_id": code, "holder": held["holder"], "at": held["at"]},
            {"$set": {"holder": holder, "at": now, "block": None}},
        )
        if taken.matched_count != 1:
            return None  # another run took it over first
        return {"_id": code, "holder": holder, "at": now, "block": None, "left": held}

    def renew_run(self, code: str, holder: str, now: datetime, block: str | None) -> bool:
        """Still ``holder``'s: renewed, recording the block it reserves next."""
        renewed = self.database.payout_runs.update_one(
            {"_id": code, "holder": holder}, {"$set": {"at": now, "block": block}}
        )
        return renewed.matched_count == 1

    def end_run(self, code: str, holder: str) -> None:
        self.database.payout_runs.delete_one({"_id": code, "holder": holder})

    # the budget: a chain of entries per policy code
    #
    # Entry ``n`` of a code's chain (``{code}:{n:08d}``, a unique ``_id``) records one
    # payout's amount and the running total after it. Whoever inserts entry ``n`` reserves;
    # a second writer for the same ``n`` gets a duplicate key and tries ``n + 1`` with the new
    # total. The total never passes the budget, to the fen, whatever the concurrency, on
    # MongoDB and on FerretDB alike (an insert into a unique key is the one write both make
    # atomic). ``budget_heads`` keeps a hint of the next free ``n``: it may lag, never lead.
    # A run reserves a block of payouts in one entry (its ids and amounts listed), a refund
    # is a negative entry; the chain is never rewritten.

    def reserve_budget(
        self, code: str, budget: int | None, payout_id: str, amount: int, now: datetime
    ) -> int | None:
        """The chain position reserved for ``payout_id`` (the one it already holds, if the
        walk meets it), or None when the amount no longer fits ``budget`` (None: no limit; a
        negative amount gives money back)."""

        def fit(before: int) -> Document | None:
            fits = budget is None or before + amount <= budget
            return {"amount": amount} if fits else None

        appended = self._append(code, payout_id, now, fit)
        return None if appended is None else appended[0]

    def reserve_block(
        self,
        code: str,
        budget: int | None,
        block_id: str,
        payouts: Sequence[tuple[str, int]],
        now: datetime,
    ) -> tuple[int | None, int]:
        """One chain entry for the longest prefix of ``payouts`` (id, amount) that fits
        ``budget``: its position and how many it covers ((None, 0) when not even the first
        fits). The entry lists the ids and amounts it covers, so a runner that stopped before
        its payouts were written can be followed by one that gives back what none holds."""

        def fit(before: int) -> Document | None:
            total, covered = before, 0
            for _payout, amount in payouts:
                if budget is not None and total + amount > budget:
                    break
                total, covered = total + amount, covered + 1
            if covered == 0:
                return None
            chosen = payouts[:covered]
            return {
                "amount": total - before,
                "block": [p for p, _a in chosen],
                "amounts": [a for _p, a in chosen],
            }

        appended = self._append(code, block_id, now, fit)
        if appended is None:
            return None, 0
        n, entry = appended
        return n, len(entry.get("block", ()))

    def _append(
        self, code: str, key: str, now: datetime, fit: Callable[[int], Document | None]
    ) -> tuple[int, Document] | None:
        """Append to the code's chain the entry ``fit`` makes of the running total so far
        (None: nothing fits), recorded as ``key``'s; (position, entry). The walk that meets
        ``key``'s entry already there answers that one."""
        chain = self.database.budget_chain
        head = self.database.budget_heads.find_one({"_id": code})
        n = int(head["next"]) if head else 0
        while True:
            entry = chain.find_one({"_id": budget_entry_id(code, n)})
            if entry is not None:
                if entry["payout"] == key:
                    return n, entry
                n += 1
                continue
            before = 0
            if n > 0:
                previous = chain.find_one({"_id": budget_entry_id(code, n - 1)})
                if previous is None:  # the hint ran ahead of a write still in flight: step back
                    n -= 1
                    continue
                before = int(previous["total"])
            fitted = fit(before)
            if fitted is None:
                return None
            entry = {
                "_id": budget_entry_id(code, n),
                "code": code,
                "payout": key,
                **fitted,
                "total": before + int(fitted["amount"]),
                "at": now,
            }
            if not inserted(chain, entry):
                if chain.find_one({"_id": entry["_id"]}, {"_id": 1}) is not None:
                    continue  # someone took n first: look at it again
                there = self.chain_entry(code, key)  # the name is in the chain already
                if there is not None:
                    return int(there["n"]), there
                continue
            with contextlib.suppress(DuplicateKeyError):  # a hint: may lag, never leads
                self.database.budget_heads.replace_one({"_id": code}, {"next": n + 1}, upsert=True)
            return n, entry

    def chain_entry(self, code: str, key: str) -> Document | None:
        """The entry recorded as ``key``'s (a payout, a block, a release), with its position
        as ``n``. Recovery only (a runner that stopped half-way): a scan."""
        entry = self.database.budget_chain.find_one({"code": code, "payout": key})
        return None if entry is None else {**entry, "n": int(entry["_id"].rsplit(":", 1)[1])}

    def budget_entry_of(self, code: str, payout_id: str) -> int | None:
        """Recovery only (a runner stopped between reserving and recording it): a scan."""
        entry = self.chain_entry(code, payout_id)
        return None if entry is None else int(entry["n"])

    def reserved_budget(self, code: str) -> int:
        """The chain's running total: what is reserved of the code's budget."""
        chain = self.database.budget_chain
        head = self.database.budget_heads.find_one({"_id": code})
        n = int(head["next"]) if head else 0
        while chain.find_one({"_id": budget_entry_id(code, n)}) is not None:
            n += 1
        last = chain.find_one({"_id": budget_entry_id(code, n - 1)}) if n else None
        return int(last["total"]) if last else 0

    # fact corrections

    def insert_correction(self, correction: Document, now: datetime, *events: outbox.Event) -> None:
        """Insert the correction, which commits ``events``."""
        self.stage_events(now, outbox.Commit("corrections", correction["_id"]), *events)
        self.database.corrections.insert_one(correction)

    def load_correction(self, correction_id: str) -> Document | None:
        return self.database.corrections.find_one({"_id": correction_id})

    def advance_correction(
        self,
        correction: Document,
        update: Document,
        now: datetime,
        events: Iterable[outbox.Event] = (),
    ) -> Document:
        """Compare-and-set on the correction's revision; the claim commits ``events``."""
        return claims.advance(
            self.database, "corrections", correction, update, now, events=list(events)
        )

    def corrections_of(self, subjects: list[str], limit: int) -> list[Document]:
        """The newest first."""
        found = self.database.corrections.find({"subject": {"$in": subjects}})
        return list(found.sort("created_at", -1).limit(limit))
