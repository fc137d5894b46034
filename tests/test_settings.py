"""Settings: defaults, validation, and the generated secret key."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import Settings


def test_defaults_use_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="")
    assert settings.database_url == f"sqlite:///{tmp_path / 'redline.sqlite3'}"
    assert settings.is_sqlite and not settings.secure_cookies


def test_plain_postgresql_urls_get_the_shipped_driver() -> None:
    settings = Settings(database_url="postgresql://u:p@db/redline")
    assert settings.database_url == "postgresql+psycopg://u:p@db/redline"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("database_url", "mysql://x/y", "must be a sqlite:/// or postgresql+psycopg:// URL"),
        ("base_url", "redline.example.com", "must start with http:// or https://"),
        ("secret_key", "too-short", "SECRET_KEY must be at least 32 characters"),
        ("deadline_grace_seconds", -1, "greater than or equal to 0"),
    ],
)
def test_invalid_settings_are_refused_with_the_reason(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Settings(**{field: value})


def test_a_given_secret_key_is_used_as_is(tmp_path: Path) -> None:
    key = "k" * 40
    assert Settings(data_dir=tmp_path, secret_key=key).resolved_secret_key() == key
    assert not (tmp_path / "secret_key").exists()


def test_the_generated_secret_key_is_created_once_even_under_a_race(tmp_path: Path) -> None:
    keys: list[str] = []

    def resolve() -> None:
        keys.append(Settings(data_dir=tmp_path).resolved_secret_key())

    threads = [threading.Thread(target=resolve) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert Settings(data_dir=tmp_path).resolved_secret_key() == keys[0]
