"""The configuration table (docs/configuration.md), generated from the settings classes.

``jobyard-dev settings-table`` prints it; a test fails when the docs' table and the
code disagree, so a setting cannot be added without being documented.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass

from pydantic_settings import BaseSettings

# (module, class, who reads it); a class lists only the fields it adds to its base.
SETTINGS_CLASSES = [
    ("jobyard_libs.settings", "LoggingSettings", "every service"),
    (
        "jobyard_libs.settings",
        "BaseServiceSettings",
        "every service but the operator",
    ),
    ("jobyard_libs.settings", "HttpServiceSettings", "auth, api, monitor, console"),
    ("jobyard_libs.settings", "TokenVerificationSettings", "api, monitor"),
    ("jobyard_libs.settings", "EgressSettings", "api, scheduler, worker"),
    ("jobyard_libs.tasks.settings", "TaskSettings", "api, scheduler, worker"),
    ("jobyard_auth.settings", "AuthSettings", "auth"),
    ("jobyard_libs.imports.settings", "ImportSettings", "api, scheduler, worker"),
    ("jobyard_libs.retention", "RetentionSettings", "api, scheduler"),
    ("jobyard_api.settings", "ApiSettings", "api"),
    ("jobyard_worker.settings", "WorkerSettings", "worker"),
    ("jobyard_scheduler.settings", "SchedulerSettings", "scheduler"),
    ("jobyard_monitor.settings", "MonitorSettings", "monitor"),
    ("jobyard_console.settings", "ConsoleSettings", "console"),
    ("jobyard_operator.settings", "OperatorSettings", "operator"),
    ("jobyard_devstack.settings", "DevSettings", "make run"),
]


@dataclass(frozen=True)
class SettingDoc:
    env: str
    default: str
    used_by: str
    description: str


def _default(value: object) -> str:
    if value is None:
        return "(unset)"
    if hasattr(value, "value"):
        value = value.value
    return json.dumps(value) if isinstance(value, list) else str(value)


def settings_docs() -> list[SettingDoc]:
    """One entry per variable; one declared by several classes lists all their readers."""
    docs: dict[str, SettingDoc] = {}
    for module, name, used_by in SETTINGS_CLASSES:
        cls: type[BaseSettings] = getattr(importlib.import_module(module), name)
        prefix = str(cls.model_config.get("env_prefix", ""))
        for field, info in cls.model_fields.items():
            env = (prefix + field).upper()
            known = docs.get(env)
            if known is None:
                docs[env] = SettingDoc(
                    env,
                    _default(info.get_default(call_default_factory=True)),
                    used_by,
                    info.description or "",
                )
            elif used_by not in known.used_by and field not in _inherited(cls):
                docs[env] = SettingDoc(env, known.default, f"{known.used_by}, {used_by}", known.description)
    return list(docs.values())


def _inherited(cls: type[BaseSettings]) -> set[str]:
    return {f for base in cls.__mro__[1:] for f in getattr(base, "model_fields", {})}


def settings_table() -> str:
    rows = ["| setting | default | read by | what it does |", "|---|---|---|---|"]
    rows += [f"| `{d.env}` | `{d.default}` | {d.used_by} | {d.description} |" for d in settings_docs()]
    return "\n".join(rows)
