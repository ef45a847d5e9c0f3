"""The CRD the chart installs and the spec model the operator reads cannot drift apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from jobyard_operator.resource import GROUP, KIND, PLURAL, VERSION, AutoscalerSpec
from pydantic import BaseModel, ValidationError

ROOT = Path(__file__).parents[3]
CRD = yaml.safe_load((ROOT / "charts/jobyard/crds/workerautoscalers.jobyard.io.yaml").read_text())
EXAMPLE = yaml.safe_load((ROOT / "docs/examples/workerautoscaler.yaml").read_text())
[SERVED] = CRD["spec"]["versions"]
SCHEMA = SERVED["schema"]["openAPIV3Schema"]


def defaults(schema: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    found = {}
    for name, prop in schema.get("properties", {}).items():
        if "default" in prop and prop.get("type") != "object":
            found[prefix + name] = prop["default"]
        found.update(defaults(prop, f"{prefix}{name}."))
    return found


def model_defaults(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    found = {}
    for name, field in model.model_fields.items():
        alias = field.alias or name
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.update(model_defaults(annotation, f"{prefix}{alias}."))
        elif not field.is_required() and field.default is not None:
            found[prefix + alias] = field.default
    return found


def test_names_match_the_operator() -> None:
    names = CRD["spec"]["names"]
    assert (CRD["spec"]["group"], SERVED["name"], names["plural"], names["kind"]) == (
        GROUP,
        VERSION,
        PLURAL,
        KIND,
    )
    assert CRD["spec"]["scope"] == "Namespaced"
    assert SERVED["subresources"] == {"status": {}}


def test_schema_defaults_are_the_models_defaults() -> None:
    spec_defaults = {k.removeprefix("spec."): v for k, v in defaults(SCHEMA).items() if k.startswith("spec.")}
    assert spec_defaults == model_defaults(AutoscalerSpec)
    assert spec_defaults["pollingIntervalSeconds"] == 10
    assert spec_defaults["cooldownSeconds"] == 300


def test_every_spec_field_is_in_the_schema() -> None:
    schema_fields = set(SCHEMA["properties"]["spec"]["properties"])
    assert schema_fields == {f.alias for f in AutoscalerSpec.model_fields.values()}


def test_the_example_is_valid_for_both() -> None:
    jsonschema.validate(EXAMPLE, SCHEMA)
    spec = AutoscalerSpec.model_validate(EXAMPLE["spec"]).scaling()
    assert (spec.max_replicas, spec.scale_up.max_step, spec.scale_down.period_seconds) == (20, 5, 30)


@pytest.mark.parametrize(
    "change",
    [
        {"targetDepthPerReplica": 0},
        {"minReplicas": -1},
        {"queues": []},
        {"pollingIntervalSeconds": 0},
        {"targetRef": {}},
    ],
)
def test_bad_values_are_refused_by_both(change: dict[str, Any]) -> None:
    bad = {**EXAMPLE, "spec": {**EXAMPLE["spec"], **change}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)
    with pytest.raises(ValidationError):
        AutoscalerSpec.model_validate(bad["spec"])


def test_min_above_max_is_refused() -> None:
    rules = SCHEMA["properties"]["spec"]["x-kubernetes-validations"]
    assert any("self.minReplicas <= self.maxReplicas" in r["rule"] for r in rules)  # the API server's check
    with pytest.raises(ValidationError, match="minReplicas must not exceed maxReplicas"):
        AutoscalerSpec.model_validate({**EXAMPLE["spec"], "minReplicas": 30})
