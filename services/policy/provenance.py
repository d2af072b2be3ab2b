"""Where each fact may come from (provenance).

Some facts are stated by one source alone: a subject's kind, unit and birth date by identity;
a certificate's status (``cert_<type>``) and its face facts (a disability certificate's
category and grade, being a high-tech enterprise) by certs. Nobody types those in: a write
from any other source is refused with 403 naming the fact, and a disputed one is corrected
where it is stated (at the registry, or by the issuing department). ``age`` is derived from
the birth date and never written. Every other fact is a *feed* fact: written by a partner
system's feed (``facts:write``), by staff of the subject's area, or by an accepted
correction.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.common.errors import Forbidden
from services.policy.certfacts import FACE_FACTS

IDENTITY = "identity"
CERTS = "certs"
CORRECTION = "correction"
FEED = "feed"

IDENTITY_FACTS = frozenset({"subject_type", "org_unit", "birth_date"})
DERIVED_FACTS = frozenset({"age"})
CERTIFICATE_FACTS = frozenset(
    {fact for facts in FACE_FACTS.values() for fact in facts.values()} | {"is_high_tech"}
)


def source_of(fact: str) -> str:
    """The one source that states ``fact`` (``feed`` for facts fed from outside)."""
    if fact in IDENTITY_FACTS or fact in DERIVED_FACTS:
        return IDENTITY
    if fact in CERTIFICATE_FACTS or fact.startswith("cert_"):
        return CERTS
    return FEED


def writer_class(source: str) -> str:
    """``partner:tax-bureau`` and ``staff:acc_…`` write feed facts; the others are named."""
    if source.startswith(("partner:", "staff:")) or source == CORRECTION:
        return FEED
    return source


def require_writable(facts: Iterable[str], source: str) -> None:
    """Refuse (403, naming the fact) a fact ``source`` may not state."""
    writer = writer_class(source)
    for fact in facts:
        stated_by = source_of(fact)
        if fact in DERIVED_FACTS or stated_by != writer:
            raise Forbidden(
                f"{fact} is stated by {stated_by} only"
                + ("" if fact not in DERIVED_FACTS else " (derived from the birth date)"),
                field=f"facts.{fact}",
                code="fact_source",
            )
