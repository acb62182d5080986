"""Settings for every Chacra process, read from the environment (``CHACRA_`` prefix, ``__`` nests)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ServiceName = Literal["cooperatives", "lots", "certification"]


class ServiceSettings(BaseModel):
    """Where one service keeps its data and where its peers reach it in distributed mode."""

    database_url: str | None = None
    url: str | None = None


class AuthSettings(BaseModel):
    # Ed25519 keys: the cooperatives service signs, every service verifies offline with the public key.
    private_key: SecretStr | None = None
    public_key: str | None = None
    signing_key_file: Path = Path("chacra-signing-key.pem")
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    issuer: str = "chacra"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHACRA_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    database_url: str = "sqlite+aiosqlite:///chacra.db"
    public_base_url: str = "http://127.0.0.1:8000"
    admin_username: str | None = None
    admin_password: SecretStr | None = None
    auth: AuthSettings = AuthSettings()
    cooperatives: ServiceSettings = ServiceSettings()
    lots: ServiceSettings = ServiceSettings()
    certification: ServiceSettings = ServiceSettings()
    # Rural devices queue requests offline for days, so keys must outlive a long outage (issue #2).
    idempotency_ttl_days: int = Field(default=7, ge=7)
    # An in-flight key whose request died with its process is taken over after this long; longer
    # than the slowest request (a 100,000-row import takes about a minute).
    idempotency_lock_seconds: int = Field(default=600, ge=1)
    max_body_bytes: int = Field(default=100 * 2**20, ge=1024)
    import_max_errors: int = Field(default=1000, ge=1)
    import_batch_rows: int = Field(default=1000, ge=1, le=10_000)
    service_timeout_seconds: float = Field(default=10.0, gt=0)
    # A coca-free verification vouches for a harvest this many months after it (issue #4).
    coca_free_window_months: int = Field(default=12, ge=1, le=60)
    # Scan counts are kept in memory and written this often (services/lots/public/scans.py).
    scan_flush_seconds: float = Field(default=2.0, gt=0)
    # How often the public pages' change watch reads what changed in the ledger and the claims
    # (services/lots/public/watch.py): a change shows on a cached page within this many seconds.
    # 0: no watch, every request checks its page's version (tests).
    public_revalidate_seconds: float = Field(default=5.0, ge=0)
    # Memory for built public pages: least recently asked out first past this. With the page store
    # a lot keeps ~1.3 KB here (80 MB: ~60,000 lots); without it, ~12 KB (its JSON and pages).
    public_cache_mb: int = Field(default=80, ge=1)
    # Room for the bytes of built public pages outside the process: a memfd, at most a quarter of the
    # machine's or the container's memory (lots/public/store.py); 0 keeps them in the process. ~12 KB a lot.
    public_store_mb: int = Field(default=2048, ge=0)
    # A directory to keep them in a file there instead (unlinked at once): less memory, but the
    # kernel may drop pages of it not read for a while, and reading one back waits for the disk.
    public_store_dir: str | None = None
    # Printing labels builds their lots' public pages in the background (services/lots/public/warm.py).
    public_build_ahead: bool = True
    # glibc malloc arenas of a server process (deploy/memory.py); 0 leaves glibc's default.
    malloc_arenas: int = Field(default=1, ge=0)
    log_level: str = "INFO"
    log_json: bool = True
    sql_echo: bool = False

    def service(self, name: ServiceName) -> ServiceSettings:
        service_settings: ServiceSettings = getattr(self, name)
        return service_settings

    def database_url_for(self, name: ServiceName) -> str:
        return self.service(name).database_url or self.database_url


@lru_cache
def get_settings() -> Settings:
    return Settings()
