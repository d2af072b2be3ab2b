"""What a proxy did in another person's name, told to identity (which keeps every person's
activity): an event staged with the act itself, so the principal reads it however the act
was made (a code in identity; a presentation or an application in certs; a payout decision
in policy). ``proxy_acted`` carries both identities: the person acted for and the proxy
(their subject and account)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.common.actor import Actor
from services.common.outbox import Event

NAME = "proxy_acted"


def proxy_of(actor: Actor, principal: str) -> str | None:
    """The proxy when ``actor`` acts for another person (None for oneself, and for an
    operator acting for an organisation: that is the organisation's own act)."""
    me = actor.subject_id
    if me is None or me == principal or not principal.startswith("p_"):
        return None
    return me


def acted(
    principal: str, proxy: str, actor: Actor, action: str, ref: str, at: datetime, **detail: Any
) -> Event:
    """One act (``action`` on ``ref``, unique to it: the presentation, the application, the
    payout and its answer)."""
    return Event(
        NAME,
        f"{NAME}:{action}:{ref}:{principal}",
        {
            "principal": principal,
            "proxy": proxy,
            "proxy_account": actor.account_id,
            "action": action,
            "at": at,
            "detail": {"ref": ref, **detail},
        },
    )
