"""policy's store in memory: every method of :class:`services.policy.store.PolicyStore`, on
dicts, for unit tests of the domain (tests/integration/policy/test_store.py runs the same
checks on both). Unique keys are kept as the database keeps them (every ``_id``, and a
policy's code and version); compare-and-set is on ``rev``. The events a change causes are
kept in :attr:`MemoryPolicyStore.events` once the change happened, in order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from services.common import outbox
from services.common.document import Document
from services.policy.store import PolicyStore, budget_entry_id
from tests.unit.memory import MemoryClaims, project


class MemoryPolicyStore(MemoryClaims, PolicyStore):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[outbox.Event] = []  # those whose change happened

    @property
    def name(self) -> str:
        return f"memory-{id(self)}"

    def event_names(self) -> list[str]:
        """The events that left (or will leave) through the outbox, in order."""
        return [event.name for event in self.events]

    def _committed(self, changed: bool, events: Iterable[outbox.Event]) -> bool:
        if changed:
            self.events.extend(events)
        return changed

    # claims that commit events (claim, claimed, release_claim: MemoryClaims)

    def repoint_claim(self, key: str, **detail: Any) -> None:
        self._update("claims", key, detail)

    def claim_committing(self, key: str, now: datetime, *events: outbox.Event) -> bool:
        return self._committed(self.claim(key, now), events)

    # policies and their versions

    def load_policy(self, policy_id: str, fields: Document | None = None) -> Document | None:
        return self._get("policies", policy_id, fields)

    def insert_policy(self, policy: Document) -> bool:
        taken = any(
            (p["code"], p["version"]) == (policy["code"], policy["version"])
            for p in self._all("policies")
        )
        return not taken and self._insert_once("policies", policy)

    def policies(self, status: str | None = None) -> list[Document]:
        found = [p for p in self._all("policies") if not status or p["status"] == status]
        return sorted(found, key=lambda p: (p["code"], p["version"]))

    def versions_of(self, code: str, statuses: Sequence[str] | None = None) -> list[Document]:
        return [
            p
            for p in self._all("policies")
            if p["code"] == code and (statuses is None or p["status"] in statuses)
        ]

    def versions_spelled(self, code: str, fields: Document | None = None) -> list[Document]:
        found = [p for p in self._all("policies") if str(p["code"]).lower() == code.lower()]
        return [project(p, fields) for p in found]

    def advance_policy(self, policy: Document, update: Document, now: datetime) -> Document:
        return self._advance("policies", policy, update)

    def published_policies(self) -> list[Document]:
        fields = {"subject_type": 1, "reads": 1}
        return [project(p, fields) for p in self._all("policies") if p["status"] == "published"]

    # the catalogue of published policies

    def write_catalogue(self, kind: str, entries: list[Document], revision: str) -> None:
        self._put("published", {"_id": f"published:{kind}", "policies": entries})
        self._put("published", {"_id": f"published-rev:{kind}", "rev": revision})

    def catalogue_revision(self, kind: str) -> str | None:
        found = self._get("published", f"published-rev:{kind}")
        return None if found is None else str(found["rev"])

    def catalogue_entries(self, kind: str) -> list[Document]:
        found = self._get("published", f"published:{kind}")
        return [] if found is None else list(found["policies"])

    # facts about subjects

    def load_facts(self, subject: str) -> Document | None:
        return self._get("facts", subject)

    def insert_facts(self, document: Document) -> bool:
        return self._insert_once("facts", document)

    def advance_facts(self, document: Document, update: Document, now: datetime) -> Document:
        return self._advance("facts", document, update)

    def subjects_of_kind(self, kind: str) -> Iterator[Document]:
        yield from (d for d in self._all("facts") if d.get("kind") == kind)

    def load_fact_batch(self, key: str) -> Document | None:
        return self._get("fact_batches", key)

    def record_fact_batch(self, batch: Document) -> None:
        self._insert_once("fact_batches", batch)

    def load_fact_kind(self, name: str) -> Document | None:
        return self._get("fact_kinds", name)

    def fact_kinds(self, limit: int) -> list[Document]:
        return self._all("fact_kinds")[:limit]

    def insert_fact_kind(self, kind: Document) -> bool:
        return self._insert_once("fact_kinds", kind)

    # what identity and certs told us

    def subjects_cursor(self) -> str:
        return str((self._get("sync_state", "subjects") or {"after": ""})["after"])

    def move_subjects_cursor(self, after: str, caught_up: bool = False) -> None:
        self._put("sync_state", {"_id": "subjects", "after": after, "caught_up": caught_up})

    def subjects_caught_up(self) -> bool:
        return bool((self._get("sync_state", "subjects") or {}).get("caught_up"))

    def load_cert_order(self, key: str) -> Document | None:
        return self._get("cert_order", key)

    def insert_cert_order(self, entry: Document) -> bool:
        return self._insert_once("cert_order", entry)

    def advance_cert_order(self, entry: Document, update: Document, now: datetime) -> Document:
        return self._advance("cert_order", entry, update)

    # matches

    def put_matches(self, matches: Sequence[Document]) -> None:
        for match in matches:
            self._put("matches", match)

    def eligible_matches(self, policy_id: str) -> list[Document]:
        return [
            m for m in self._all("matches") if m["policy"] == policy_id and m["eligible"] == "yes"
        ]

    # the inbox

    def deliver_message(self, message: Document, now: datetime, *events: outbox.Event) -> bool:
        return self._committed(self._insert_once("inbox", message), events)

    def messages_for(self, subjects: list[str], limit: int) -> list[Document]:
        found = [m for m in self._all("inbox") if m["subject"] in subjects]
        return sorted(found, key=lambda m: m["at"], reverse=True)[:limit]

    def push_mark(self, mark_id: str) -> Document | None:
        return self._get("push_marks", mark_id)

    def put_push_mark(self, mark: Document) -> None:
        self._put("push_marks", mark)

    # payouts

    def load_payout(self, payout_id: str, fields: Document | None = None) -> Document | None:
        return self._get("payouts", payout_id, fields)

    def insert_payouts(self, payouts: Sequence[Document]) -> set[str]:
        return {str(p["_id"]) for p in payouts if self._insert_once("payouts", p)}

    def advance_payout(
        self,
        payout: Document,
        update: Document,
        now: datetime,
        events: Iterable[outbox.Event] = (),
    ) -> Document:
        moved = self._advance("payouts", payout, update)
        self.events.extend(events)
        return moved

    def unfunded_subjects(self, code: str, period: str) -> set[str]:
        return {
            str(p["subject"])
            for p in self._all("payouts")
            if (p["code"], p["period"], p["status"]) == (code, period, "unfunded")
        }

    def payouts_of(
        self,
        code: str,
        status: str | None = None,
        period: str | None = None,
        fields: Document | None = None,
    ) -> Iterator[Document]:
        for payout in self._all("payouts"):
            if payout["code"] != code or (status is not None and payout["status"] != status):
                continue
            if period is None or payout["period"] == period:
                yield project(payout, fields)

    def payouts_of_subjects(self, subjects: list[str], limit: int) -> list[Document]:
        found = [p for p in self._all("payouts") if p["subject"] in subjects]
        return sorted(found, key=lambda p: p["created_at"], reverse=True)[:limit]

    def failed_payouts(self, limit: int) -> list[Document]:
        found = self._all("payouts")
        return [p for p in found if p["status"] == "failed" and p.get("flagged") is False][:limit]

    def disbursing_payouts(self, limit: int) -> list[Document]:
        return [p for p in self._all("payouts") if p["status"] == "disbursing"][:limit]

    def open_offers(self, limit: int) -> list[Document]:
        return [p for p in self._all("payouts") if p["status"] == "offered"][:limit]

    def payouts_by_state(self) -> list[tuple[str, int, int]]:
        states: dict[str, tuple[int, int]] = {}
        for payout in self._all("payouts"):
            count, fen = states.get(payout["status"], (0, 0))
            states[payout["status"]] = (count + 1, fen + int(payout["amount"]))
        return [(state, count, fen) for state, (count, fen) in sorted(states.items())]

    # the budget chain

    def take_run(
        self, code: str, holder: str, now: datetime, stale_before: datetime
    ) -> Document | None:
        lease = {"_id": code, "holder": holder, "at": now, "block": None}
        if self._insert_once("payout_runs", lease):
            return {**lease, "left": None}
        held = self._get("payout_runs", code)
        if held is None or held["at"] >= stale_before:
            return None
        self._put("payout_runs", lease)
        return {**lease, "left": held}

    def renew_run(self, code: str, holder: str, now: datetime, block: str | None) -> bool:
        held = self._get("payout_runs", code)
        if held is None or held["holder"] != holder:
            return False
        self._update("payout_runs", code, {"at": now, "block": block})
        return True

    def end_run(self, code: str, holder: str) -> None:
        held = self._get("payout_runs", code)
        if held is not None and held["holder"] == holder:
            self._delete("payout_runs", code)

    def _chain(self, code: str) -> list[Document]:
        return [e for e in self._all("budget_chain") if e["code"] == code]

    def _append_entry(self, code: str, key: str, fields: Document, now: datetime) -> int:
        there = self.chain_entry(code, key)  # one entry per name, as the unique index keeps
        if there is not None:
            return int(there["n"])
        n = len(self._chain(code))  # the next free position
        entry = {
            "_id": budget_entry_id(code, n),
            "code": code,
            "payout": key,
            **fields,
            "total": self.reserved_budget(code) + int(fields["amount"]),
            "at": now,
        }
        self._insert_once("budget_chain", entry)
        return n

    def reserve_budget(
        self, code: str, budget: int | None, payout_id: str, amount: int, now: datetime
    ) -> int | None:
        there = self.chain_entry(code, payout_id)
        if there is not None:
            return int(there["n"])
        if budget is not None and self.reserved_budget(code) + amount > budget:
            return None
        return self._append_entry(code, payout_id, {"amount": amount}, now)

    def reserve_block(
        self,
        code: str,
        budget: int | None,
        block_id: str,
        payouts: Sequence[tuple[str, int]],
        now: datetime,
    ) -> tuple[int | None, int]:
        there = self.chain_entry(code, block_id)
        if there is not None:
            return int(there["n"]), len(there.get("block", ()))
        total, covered = self.reserved_budget(code), 0
        for _payout, amount in payouts:
            if budget is not None and total + amount > budget:
                break
            total, covered = total + amount, covered + 1
        if covered == 0:
            return None, 0
        chosen = payouts[:covered]
        fields = {
            "amount": sum(a for _p, a in chosen),
            "block": [p for p, _a in chosen],
            "amounts": [a for _p, a in chosen],
        }
        return self._append_entry(code, block_id, fields, now), covered

    def chain_entry(self, code: str, key: str) -> Document | None:
        found = [e for e in self._chain(code) if e["payout"] == key]
        return {**found[0], "n": int(found[0]["_id"].rsplit(":", 1)[1])} if found else None

    def budget_entry_of(self, code: str, payout_id: str) -> int | None:
        entry = self.chain_entry(code, payout_id)
        return None if entry is None else int(entry["n"])

    def reserved_budget(self, code: str) -> int:
        chain = self._chain(code)
        return int(chain[-1]["total"]) if chain else 0

    # fact corrections

    def insert_correction(self, correction: Document, now: datetime, *events: outbox.Event) -> None:
        if not self._committed(self._insert_once("corrections", correction), events):
            raise KeyError(correction["_id"])

    def load_correction(self, correction_id: str) -> Document | None:
        return self._get("corrections", correction_id)

    def advance_correction(
        self,
        correction: Document,
        update: Document,
        now: datetime,
        events: Iterable[outbox.Event] = (),
    ) -> Document:
        moved = self._advance("corrections", correction, update)
        self.events.extend(events)
        return moved

    def corrections_of(self, subjects: list[str], limit: int) -> list[Document]:
        found = [c for c in self._all("corrections") if c["subject"] in subjects]
        return sorted(found, key=lambda c: c["created_at"], reverse=True)[:limit]
