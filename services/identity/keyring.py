"""What identity derives from its config once per process: the personal-data keys, the
code- and card-key caches, the code lifetime, the scene table and the public address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nameko.extensions import DependencyProvider

from services.common.config import load_settings
from services.common.crypto import derive_key
from services.identity.cards import CARD_KEY_OVERLAP, LOCAL_URL, checked_public_url
from services.identity.cardtoken import KID_PREFIX
from services.identity.codekeys import MAX_CODE_TTL, KeyCache
from services.identity.codes import SCENE_FIELDS
from services.identity.pii import PiiKeys


@dataclass(frozen=True)
class IdentityKeys:
    pii: PiiKeys
    codes: KeyCache
    cards: KeyCache
    code_ttl: int
    scenes: dict[str, list[str]]
    public_url: str  # where the gateway is reached (the printed cards' status list)


class IdentitySecrets(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        config = self.container.config
        secret = load_settings(config).SECRET_KEY.get_secret_value()
        ttl = int(config.get("CODE_TTL_SECONDS") or 60)
        if not 10 <= ttl <= MAX_CODE_TTL:
            raise ValueError(f"CODE_TTL_SECONDS must be between 10 and {MAX_CODE_TTL}")
        self.keys = IdentityKeys(
            pii=PiiKeys.from_secret(secret),
            codes=KeyCache(derive_key(secret, "identity-code-keys")),
            cards=KeyCache(
                derive_key(secret, "identity-card-keys"),
                collection="card_keys",
                overlap=CARD_KEY_OVERLAP,
                prefix=KID_PREFIX,
            ),
            code_ttl=ttl,
            scenes=dict(config.get("SCENE_FIELDS") or SCENE_FIELDS),
            public_url=checked_public_url(str(config.get("PUBLIC_URL") or LOCAL_URL)),
        )

    def get_dependency(self, worker_ctx: Any) -> IdentityKeys:
        return self.keys
