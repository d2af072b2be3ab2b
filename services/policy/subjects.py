"""What the policy service learns of subjects from the other services: each subject's kind
and unit from identity (on its registration, and by catching up on those registered while
this service was not listening), and the facts its certificates give (issued, amended,
revoked), each in the certificate's own order. Every change re-matches the subject against
the published policies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.common.document import Document
from services.common.errors import Conflict
from services.policy import catalogue, certfacts, facts, rematch
from services.policy.store import PolicyStore
from services.policy.work import Profile, ProfilesAfter, Work

PAGE = 500


def learn_profile(store: PolicyStore, now: datetime, profile: Profile) -> None:
    values = {"subject_type": profile["kind"], "org_unit": profile["org_path"]}
    if profile.get("birth_date"):
        values["birth_date"] = profile["birth_date"]
    document, changed = facts.put_facts(
        store,
        now,
        profile["subject"],
        values,
        "identity",
        profile={"kind": profile["kind"], "org_path": profile["org_path"]},
    )
    rematch.rematch_subject(store, now, profile["subject"], changed or None, document)


def sync(work: Work) -> None:
    """What a timer does now and then: the catalogue rebuilt (healing a rebuild that raced
    another status change), then the subjects registered before this service listened (or
    while it was down) caught up (identity's listing, ``work.profiles_after``)."""
    catalogue.rebuild(work.store)
    catch_up(work.store, work.now, work.profiles_after)


def catch_up(store: PolicyStore, now: datetime, profiles_after: ProfilesAfter) -> None:
    """The next page of subjects after the last one learnt (``profiles_after(subject,
    limit)`` asks identity), then the cursor moves past it. Once a page comes back short the
    listing is done for good: this service's queue has existed since its first start, so
    every subject registered after that reaches it as ``subject_registered``, and the
    listing (a scan of identity's subjects on FerretDB, 47 s at 200,000) is not asked again."""
    if store.subjects_caught_up():
        return
    page = profiles_after(store.subjects_cursor(), PAGE)
    for profile in page:
        learn_profile(store, now, profile)
    after = page[-1]["subject"] if page else store.subjects_cursor()
    store.move_subjects_cursor(after, caught_up=len(page) < PAGE)


def learn_certificate(
    store: PolicyStore, now: datetime, event_type: str, payload: dict[str, Any]
) -> None:
    """A certificate event: its certificate's entry is kept (compare-and-set, in the
    certificate's own order: a late event of one certificate changes nothing), and the
    subject's facts follow the certificate of that type :func:`certfacts.followed` picks
    among all of theirs, so events of several certificates (a revoked one, a new one, an old
    one entered for the record) may arrive in any order, on any replica."""
    subject, kind = str(payload["subject"]), str(payload["type"])
    key = f"{subject}:{kind}"
    entry = certfacts.entry_of(event_type, payload)
    number = str(payload.get("number"))
    for _attempt in range(20):
        held = store.load_cert_order(key)
        if held is None:
            first = {"_id": key, "numbers": {number: entry}, "rev": 0}
            if not store.insert_cert_order(first):
                continue  # another replica wrote the first entry: read it and merge
            held = first
            break
        known = (held.get("numbers") or {}).get(number)
        if known is not None and known["order"] > entry["order"]:
            break  # a late event of this certificate
        try:
            held = store.advance_cert_order(held, {"$set": {f"numbers.{number}": entry}}, now)
        except Conflict:
            continue
        break
    if held is not None:
        _follow(store, now, subject, kind, key, held)


def _follow(
    store: PolicyStore, now: datetime, subject: str, kind: str, key: str, held: Document
) -> None:
    """Write the facts of the followed certificate; if the entries changed meanwhile (another
    replica's event), once more from what they are now, so the last writer writes the last
    state."""
    for _attempt in range(20):
        best = certfacts.followed(held.get("numbers") or {})
        if best is None:
            return
        values, forget = certfacts.facts_of(kind, best["status"], best["face"])
        person = "person" if subject.startswith("p_") else "organisation"
        document, changed = facts.put_facts(
            store, now, subject, values, "certs", profile={"kind": person}, forget=forget
        )
        rematch.rematch_subject(store, now, subject, changed, document)
        again = store.load_cert_order(key) or held
        if int(again.get("rev", 0)) == int(held.get("rev", 0)):
            return
        held = again
