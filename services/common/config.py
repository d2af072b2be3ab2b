"""Settings shared by every process.

nameko services read their settings from ``self.container.config`` (the service's
``config.yaml``, with ``${ENV_VAR:default}`` interpolation); the gateway reads the same names
from the environment. Both validate through :class:`CommonSettings`, which refuses the demo
secret outside a local or test environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

DEMO_SECRET_KEY = "demo-only-secret-key-change-me-0123456789abcdef"  # noqa: S105 - refused in production

Environment = Literal["local", "test", "production"]


class CommonSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    ENVIRONMENT: Environment = "local"
    AMQP_URI: str = "amqp://guest:guest@127.0.0.1:5672/"
    MONGO_URL: str = "mongodb://127.0.0.1:27017/"
    DB_PREFIX: str = ""
    SECRET_KEY: SecretStr = SecretStr(DEMO_SECRET_KEY)

    @model_validator(mode="after")
    def _refuse_demo_secrets(self) -> CommonSettings:
        secret = self.SECRET_KEY.get_secret_value()
        if self.ENVIRONMENT == "production":
            if secret == DEMO_SECRET_KEY:
                raise ValueError("SECRET_KEY must be set in production (the demo key is refused)")
            if len(secret) < 32:
                raise ValueError("SECRET_KEY must be at least 32 characters")
        return self

    def database_name(self, service: str) -> str:
        return f"{self.DB_PREFIX}{service}"


def load_settings(config: Mapping[str, Any]) -> CommonSettings:
    """Validate a nameko container config (or ``os.environ``) into settings."""
    # An empty ``${VAR:}`` in a nameko YAML config arrives as None: treat it as unset.
    values = {k: v for k, v in config.items() if isinstance(k, str) and v is not None}
    return CommonSettings.model_validate(values)
