"""Owner scoping cannot be forgotten: every repository method that reads by owner takes the
scope without a default (a user's id, or ``ANY_OWNER`` written out where no user's request
reaches), so leaving it out is a type error, not an admin's view."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import jobyard_libs
import pytest

pytestmark = pytest.mark.unit
SCOPES = {"owner_id", "scope"}


def _repositories() -> list[type]:
    found = []
    for module in pkgutil.walk_packages(jobyard_libs.__path__, "jobyard_libs."):
        loaded = importlib.import_module(module.name)
        found += [
            cls
            for _, cls in inspect.getmembers(loaded, inspect.isclass)
            if cls.__name__.endswith("Repository") and cls.__module__ == loaded.__name__
        ]
    for service in (
        "jobyard_auth.users.repository",
        "jobyard_auth.api_keys.repository",
        "jobyard_auth.sessions.repository",
    ):
        loaded = importlib.import_module(service)
        found += [
            c for _, c in inspect.getmembers(loaded, inspect.isclass) if c.__name__.endswith("Repository")
        ]
    return found


def test_there_are_repositories_to_check() -> None:
    names = {cls.__name__ for cls in _repositories()}
    assert {"TaskRepository", "ExecutionRepository", "DeadLetterRepository"} <= names


@pytest.mark.parametrize("repository", _repositories(), ids=lambda cls: cls.__name__)
def test_no_read_defaults_to_every_owner(repository: type) -> None:
    defaulted = [
        f"{name}({parameter.name}=…)"
        for name, method in inspect.getmembers(repository, inspect.isfunction)
        for parameter in inspect.signature(method).parameters.values()
        if parameter.name in SCOPES and parameter.default is not inspect.Parameter.empty
    ]
    assert defaulted == [], f"{repository.__name__}: name the scope, or pass ANY_OWNER"
