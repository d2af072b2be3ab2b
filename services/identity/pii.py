"""Personal data at rest: a keyed hash to look up, a sealed copy for the rare authorized
display, a masked form for everything else. The clear value is never stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.crypto import derive_key, keyed_hash, mask, seal, unseal


@dataclass(frozen=True)
class PiiKeys:
    lookup: bytes
    sealing: bytes

    @classmethod
    def from_secret(cls, secret: str) -> PiiKeys:
        return cls(
            derive_key(secret, "identity-pii-lookup"), derive_key(secret, "identity-pii-seal")
        )

    def protect(self, value: str, context: str, keep: tuple[int, int] = (4, 4)) -> dict[str, Any]:
        """``{"hash", "sealed", "masked"}`` for one value; ``context`` binds the ciphertext."""
        return {
            "hash": self.lookup_hash(value),
            "sealed": seal(self.sealing, value, context),
            "masked": mask(value, *keep),
        }

    def lookup_hash(self, value: str) -> str:
        return keyed_hash(self.lookup, value)

    def reveal(self, protected: dict[str, Any], context: str) -> str:
        return unseal(self.sealing, protected["sealed"], context)
