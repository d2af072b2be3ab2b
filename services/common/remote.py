"""Calling another service from inside a service: its domain errors stay domain errors.

Every domain error is registered with nameko's exception registry, so an ``RpcProxy`` call
raises the same ``NotFound`` (with its ``field`` and other extras, rebuilt from the wire's
``exc_args = [detail, extra]``) instead of a generic ``RemoteError``: a NotFound in identity
stays a 404 when certs asked for it. A service that calls another imports this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nameko.exceptions import registry

from services.common.errors import DOMAIN_ERRORS, DomainError


def _rebuild(cls: type[DomainError]) -> Callable[..., DomainError]:
    def rebuild(detail: str = "", extra: dict[str, Any] | None = None, *_: Any) -> DomainError:
        return cls(detail, **(extra if isinstance(extra, dict) else {}))

    return rebuild


for _cls in DOMAIN_ERRORS:
    registry[f"{_cls.__module__}.{_cls.__name__}"] = _rebuild(_cls)
