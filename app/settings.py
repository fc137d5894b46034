"""The one validated configuration of the service, read from the environment."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def home() -> Path:
    """Where data and content live by default: the checkout when run from one; installed from
    a wheel, the working directory (a folder made by `redline init`)."""
    return PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").is_file() else Path.cwd()


SECRET_KEY_FILE = "secret_key"
# Where `redline serve` notes the address it listens on, for commands run from another shell.
LISTEN_URL_FILE = "listen_url"
MIN_SECRET_KEY_LENGTH = 32


class Settings(BaseSettings):
    """Configuration; every field can be set as REDLINE_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="REDLINE_", extra="ignore")

    data_dir: Path = Field(default_factory=lambda: home() / "var")
    database_url: str = Field(
        default="", validation_alias=AliasChoices("REDLINE_DATABASE_URL", "DATABASE_URL")
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""), validation_alias=AliasChoices("REDLINE_SECRET_KEY", "SECRET_KEY")
    )
    assessments_dir: Path = Field(default_factory=lambda: home() / "assessments")
    seeded_bugs_dir: Path = Field(default_factory=lambda: home() / "seeded_bugs")
    # The labelled corpora the grader trains on; None: the ones shipped with the grading engine.
    corpora_dir: Path | None = None
    base_url: str = "http://127.0.0.1:8000"
    deadline_grace_seconds: int = Field(default=60, ge=0, le=3600)
    invite_days: int = Field(default=14, ge=1, le=365)
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    max_comments: int = Field(default=200, ge=1, le=10_000)
    max_comment_chars: int = Field(default=20_000, ge=100, le=1_000_000)
    max_summary_chars: int = Field(default=50_000, ge=100, le=1_000_000)
    threads: int = Field(default=16, ge=1, le=256)

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://"):
            # Without a driver suffix SQLAlchemy picks psycopg2, which we do not ship.
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'redline.sqlite3'}"
        key = self.secret_key.get_secret_value()
        if key and len(key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters")
        return self

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite default (or another SQLite file)."""
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry Secure when the service is reached over https."""
        return self.base_url.startswith("https://")

    def link_base_url(self) -> str:
        """Where links point: REDLINE_BASE_URL when set, else where `redline serve` listens."""
        if "base_url" not in self.model_fields_set:
            with contextlib.suppress(OSError, UnicodeDecodeError, ValueError):
                url, pid = (self.data_dir / LISTEN_URL_FILE).read_text().split()
                os.kill(int(pid), 0)  # OSError when that server is gone: the note is stale
                if url.startswith("http://"):
                    return url
        return self.base_url

    def resolved_secret_key(self) -> str:
        """The secret key; when unset, one generated once and kept in the data directory."""
        key = self.secret_key.get_secret_value()
        if key:
            return key
        path = self.data_dir / SECRET_KEY_FILE
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Write the whole key to a private temporary file, then link it into place: the link
        # either creates the key file complete or fails because another process won, so no
        # reader ever sees a half-written key and exactly one key is kept.
        fd, tmp_name = tempfile.mkstemp(dir=self.data_dir, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            os.chmod(tmp_name, 0o600)
            with contextlib.suppress(FileExistsError):
                os.link(tmp_name, path)
        finally:
            os.unlink(tmp_name)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, validated once."""
    return Settings()
