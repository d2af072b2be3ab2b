"""Showing certificates (亮证) and verifying what was shown (验真), with disclosure records.

A presentation is a short-lived JWS signed by the certs service's wallet key (published with
the issuers' keys). For each certificate shown it carries the issuer-sealed part (identity,
validity, one salted digest per field) with the issuer's signature, and the disclosures
``[salt, name, value]`` of only the fields the holder chose. A verifier checks the wallet
signature and expiry, each issuer seal, that each disclosed value hashes to a sealed digest,
and (online) that neither the presentation nor any certificate has been revoked since.
Every online verification is recorded for the holder to read.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.certs import access, issuers, statuslist
from services.certs.certificates import current_status
from services.certs.keyring import CheckingKeys
from services.certs.signing import field_digest, seal_valid, sealed_part
from services.certs.store import CertsStore
from services.common import outbox, proxy_acts
from services.common.access import Guard
from services.common.actor import Actor
from services.common.codec import city_day, format_time, to_wire
from services.common.document import Document
from services.common.errors import Forbidden, InvalidInput, NotFound

DEFAULT_TTL, MAX_TTL = 120, 600


class PresentationRefused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# What identity's subject_brief says of a subject; refused when frozen (or deceased).
Standing = Callable[[str], dict[str, Any]]


def standing_in(identity: Any) -> Standing:
    """A subject's standing (frozen, deceased …) as identity's brief of it, asked over RPC."""

    def brief_of(subject: str) -> dict[str, Any]:
        brief: dict[str, Any] = identity.subject_brief(subject_id=subject)
        return brief

    return brief_of


FROZEN = ("frozen", "deceased")


def create(
    store: CertsStore,
    key: tuple[str, Ed25519PrivateKey],
    guard: Guard,
    now: datetime,
    certificate_ids: list[str],
    fields: list[str],
    audience: str | None,
    ttl_seconds: int | None,
    standing: Standing,
) -> dict[str, Any]:
    """A presentation (亮证) of chosen fields of one's certificates; refused while the holder
    of any of them is frozen, with why and where to go (``standing`` asks identity)."""
    if not isinstance(certificate_ids, list) or not 1 <= len(certificate_ids) <= 10:
        raise InvalidInput("one to ten certificates", field="certificate_ids")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise InvalidInput("a non-empty list of field names to reveal", field="fields")
    ttl = DEFAULT_TTL if ttl_seconds is None else int(ttl_seconds)
    if not 10 <= ttl <= MAX_TTL:
        raise InvalidInput(f"between 10 and {MAX_TTL} seconds", field="ttl_seconds")
    actor = guard.actor
    items, shown_subjects = [], []
    for certificate_id in certificate_ids:
        certificate = (
            store.load_certificate(certificate_id) if isinstance(certificate_id, str) else None
        )
        if certificate is None:
            raise NotFound("no such certificate in your wallet", field="certificate_ids")
        issuer = store.load_issuer(certificate["issuer"], {"org_path": 1}) or {}
        guard.require(
            access.certificate(certificate, issuer.get("org_path")),
            "no such certificate in your wallet",
            field="certificate_ids",
        )
        shown_subjects.append(certificate["subject"])
        status = current_status(certificate, city_day(now))
        if status != "valid":
            raise Forbidden(f"this certificate is {status}", code=status)
        chosen = [name for name in fields if name in certificate["fields"]]
        items.append(
            {
                "id": certificate["_id"],  # a pointer for a fast lookup; checked below
                "sealed": sealed_part(certificate),
                "signature": certificate["signature"],
                "kid": certificate["kid"],
                "disclosures": [
                    [certificate["salts"][n], n, certificate["fields"][n]] for n in chosen
                ],
            }
        )
    if not any(item["disclosures"] for item in items):
        raise InvalidInput("none of these fields is on the chosen certificates", field="fields")
    for subject in sorted(set(shown_subjects)):
        brief = standing(subject)
        if brief.get("status") in FROZEN:
            raise Forbidden(
                "certificates cannot be shown while the holder's code is frozen",
                code="frozen",
                frozen=brief.get("frozen") or {"by": "staff", "reason": None, "office": None},
            )
    jti = secrets.token_urlsafe(12)
    issued = int(now.timestamp())
    claims = {"jti": jti, "iat": issued, "exp": issued + ttl, "items": items}
    if audience:
        claims["aud"] = audience
    kid, private = key
    token = jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": kid, "typ": None})
    # What was shown: the chosen fields the certificates have (a name that is on none of them
    # is not "shown", nor written into anyone's activity).
    fields = sorted({d[1] for item in items for d in item["disclosures"]})
    acts = [
        proxy_acts.acted(subject, proxy, actor, "present", jti, now, fields=fields)
        for subject in sorted(set(shown_subjects))
        if (proxy := proxy_acts.proxy_of(actor, subject)) is not None
    ]
    store.stage_events(now, outbox.Commit("presentations", jti), *acts)
    store.insert_presentation(
        {
            "_id": jti,
            "holder": actor.subject_id,
            "holders": sorted(set(shown_subjects)),
            "account": actor.account_id,
            "certificate_ids": certificate_ids,
            "fields": fields,
            "audience": audience,
            "expires_at": datetime.fromtimestamp(issued + ttl, now.tzinfo),
            "revoked": False,
            "created_at": now,
        }
    )
    return {
        "id": jti,
        "token": token,
        "expires_at": format_time(datetime.fromtimestamp(issued + ttl, now.tzinfo)),
        "token_bytes": len(token),
    }


def revoke(store: CertsStore, guard: Guard, presentation_id: str) -> dict[str, Any]:
    """The person (or account) who made a presentation withdraws it."""
    found = store.load_presentation(presentation_id) if isinstance(presentation_id, str) else None
    if found is None:
        raise NotFound("no such presentation")
    guard.require(access.presentation(found), "no such presentation")
    store.withdraw_presentation(presentation_id)
    return {"id": presentation_id, "revoked": True}


def check_token(
    token: str,
    wallet_keys: dict[str, Ed25519PublicKey],
    issuer_keys: dict[str, Ed25519PublicKey],
    now: float,
    audience: str | None,
) -> list[dict[str, Any]]:
    """Everything that needs no database: signatures, expiry, audience, digests. Returns, per
    certificate, its sealed part and the revealed fields. Shared with the offline verifier."""
    try:
        header = jwt.get_unverified_header(token)
        wallet_key = wallet_keys.get(str(header.get("kid")))
        if header.get("alg") != "EdDSA" or wallet_key is None:
            raise PresentationRefused("forged", "not a presentation from this city's wallet")
        claims = jwt.decode(
            token,
            wallet_key,
            algorithms=["EdDSA"],
            options={"verify_exp": False, "verify_aud": False, "require": ["jti", "exp", "items"]},
        )
    except jwt.PyJWTError as exc:
        raise PresentationRefused("forged", "the presentation's signature is broken") from exc
    if now > claims["exp"]:
        raise PresentationRefused("expired", "this presentation has expired")
    if claims.get("aud") and claims["aud"] != audience:
        raise PresentationRefused("wrong_audience", "this presentation is for someone else")
    shown = []
    for item in claims["items"]:
        sealed = item["sealed"]
        issuer_key = issuer_keys.get(str(item.get("kid")))
        if issuer_key is None or not seal_valid(sealed, item["signature"], issuer_key):
            raise PresentationRefused("forged", "an issuer's seal does not match")
        revealed = {}
        for salt, name, value in item["disclosures"]:
            if field_digest(salt, name, value) not in sealed["field_digests"]:
                raise PresentationRefused("forged", f"the field {name} was altered")
            revealed[name] = value
        shown.append(
            {"sealed": sealed, "revealed": revealed, "jti": claims["jti"], "id": item.get("id")}
        )
    return shown


Keys = Callable[[bool], CheckingKeys]  # the checking keys, read afresh when asked


def verify(
    store: CertsStore,
    actor: Actor,
    now: datetime,
    token: str,
    keys: Keys,
    purpose: str | None,
    standing: Standing,
) -> dict[str, Any]:
    """A verifier checks a presentation: signed, not withdrawn, each certificate valid now,
    and no holder frozen since it was made (refused like their codes, nothing shown). The
    keys come from a cache; a token they cannot check is checked again with fresh ones (an
    issuer created a moment ago)."""
    if not isinstance(token, str) or len(token) > 16_384:
        raise InvalidInput("a presentation token is required", field="token")
    try:
        try:
            shown = _checked(token, keys(False), now, actor)
        except PresentationRefused as refused:
            if refused.reason != "forged":
                raise
            shown = _checked(token, keys(True), now, actor)
        presentation = store.load_presentation(shown[0]["jti"])
        if presentation is None or presentation["revoked"]:
            raise PresentationRefused("revoked", "the holder withdrew this presentation")
        if any(standing(h).get("status") in FROZEN for h in presentation["holders"]):
            raise PresentationRefused("frozen", "this holder's code is frozen")
        results = [_current(store, item, city_day(now)) for item in shown]
    except PresentationRefused as refused:
        raise InvalidInput(refused.detail, field="token", code=refused.reason) from refused
    _record(store, actor, now, presentation, results, purpose)
    return {"result": "valid", "certificates": results, "checked_at": format_time(now)}


def _checked(token: str, keys: CheckingKeys, now: datetime, actor: Actor) -> list[dict[str, Any]]:
    return check_token(token, keys.wallet, keys.issuers, now.timestamp(), actor.account_id)


def _current(store: CertsStore, item: dict[str, Any], today: date) -> dict[str, Any]:
    sealed = item["sealed"]
    certificate = store.load_certificate(item["id"]) if isinstance(item.get("id"), str) else None
    if certificate is None or (certificate["number"], certificate["version"]) != (
        sealed["number"],
        sealed["version"],
    ):
        certificate = store.certificate_version(sealed["number"], sealed["version"])
    if certificate is None:
        raise PresentationRefused("forged", "no such certificate")
    status = current_status(certificate, today)
    if status != "valid":
        raise PresentationRefused(status, f"this certificate is {status}")
    issuer = store.load_issuer(sealed["issuer"], {"name": 1})
    kind = store.load_cert_type(sealed["type"])
    return {
        "number": sealed["number"],
        "certificate_id": certificate["_id"],
        "subject": certificate["subject"],
        "type": {"code": sealed["type"], "name": (kind or {}).get("names", {}).get("zh")},
        "issuer": {"id": sealed["issuer"], "name": (issuer or {}).get("name")},
        "valid_from": sealed["valid_from"],
        "valid_until": sealed["valid_until"],
        "status": status,
        "fields": item["revealed"],
    }


def _record(
    store: CertsStore,
    actor: Actor,
    now: datetime,
    presentation: Document,
    results: list[dict[str, Any]],
    purpose: str | None,
) -> None:
    # Each disclosure belongs to the holder of the certificate shown (not to whoever showed
    # it: a proxy's own certificates are not their principal's business, nor the reverse).
    store.record_disclosures(
        [
            {
                "_id": "dis_" + secrets.token_hex(8),
                "subject": r.pop("subject"),
                "shown_by": presentation["holder"],
                "presentation": presentation["_id"],
                "certificate_id": r["certificate_id"],
                "number": r["number"],
                "type": r["type"]["code"],
                "issuer": r["issuer"]["id"],
                "fields": sorted(r["fields"]),
                "verifier": actor.account_id,
                "verifier_name": actor.name,
                "purpose": purpose,
                "at": now,
            }
            for r in results
        ]
    )


def my_disclosures(store: CertsStore, subjects: list[str], limit: int) -> list[dict[str, Any]]:
    """Who saw which fields of the certificates of ``subjects`` (records from before they
    were kept per holder are read by who showed them)."""
    return [
        to_wire(
            {k: d.get(k) for k in ("number", "type", "fields", "verifier_name", "purpose", "at")}
        )
        for d in store.disclosures_of(subjects, limit)
    ]


def disclosure_stats(store: CertsStore, guard: Guard, issuer_id: str) -> dict[str, Any]:
    """What an issuer's certificates disclosed, by verifier and type, for its own staff."""
    guard.require(access.issuer(issuers.get_issuer(store, issuer_id)), "no such issuer")
    return {
        "issuer": issuer_id,
        "by_verifier_and_type": [
            {"verifier": verifier, "type": cert_type, "count": count}
            for verifier, cert_type, count in store.disclosure_counts(issuer_id)
        ],
    }


def status_checked(sealed: dict[str, Any], lists: dict[str, dict[str, Any]]) -> str:
    """Offline: the certificate's bit in its issuer's cached status list."""
    listed = lists.get(sealed["issuer"])
    if listed is None:
        return "unknown"
    return (
        "revoked_or_suspended"
        if statuslist.bit(listed["encoded_list"], sealed["status_index"])
        else "valid"
    )
