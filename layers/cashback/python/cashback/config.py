"""Function configuration, read from the environment once per container and validated."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """What every function needs from its environment (set by template.yaml)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    table_name: str = Field(min_length=3, max_length=255)
    # Where customer-facing events go (only the functions that publish have one).
    event_bus_name: str | None = Field(default=None, min_length=1, max_length=256)
    # How long a tenant's settings stay cached in a warm container.
    settings_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    # The payout provider the payout function uses, and the secret its status callbacks are
    # signed with (only the payout function has them).
    payout_provider: str = Field(default="sandbox", pattern=r"^[a-z][a-z0-9-]{0,31}$")
    payout_callback_secret: str | None = Field(default=None, min_length=16, max_length=256)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()  # type: ignore[call-arg]  # fields come from the environment
