from __future__ import annotations

from pathlib import Path

import pytest
from jobyard_auth.app import create_app
from jobyard_auth.keystore import KeyStoreError
from jobyard_auth.settings import AuthSettings
from pydantic import ValidationError


def test_production_refuses_a_placeholder_admin_password() -> None:
    with pytest.raises(ValidationError, match="JOBYARD_ADMIN_PASSWORD"):
        AuthSettings(_env_file=None, environment="production", admin_password="changeme")


def test_production_never_generates_signing_keys(tmp_path: Path) -> None:
    settings = AuthSettings(_env_file=None, environment="production", signing_keys_dir=tmp_path / "none")
    with pytest.raises(KeyStoreError, match="generate-key"):
        create_app(settings)
    assert not (tmp_path / "none").exists()
