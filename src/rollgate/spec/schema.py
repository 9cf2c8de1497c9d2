"""The JSON Schema of rollgate.yaml, for editors and the generated reference."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic_core import PydanticUndefined

from rollgate.spec import models
from rollgate.spec.base import Model

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) that a rollgate.yaml file must match."""
    schema = models.Spec.model_json_schema(mode="validation")
    _add_defaults(schema, models.Spec)
    by_name = {cls.__name__: cls for cls in _models(Model)}
    for name, definition in schema.get("$defs", {}).items():
        _add_defaults(definition, by_name[name])
    return {"$schema": DIALECT, **schema, "title": "rollgate.yaml"}


def _models(base: type[Model]) -> list[type[Model]]:
    """Every spec model, wherever it is defined (check kinds live beside their runners)."""
    found: list[type[Model]] = []
    for sub in base.__subclasses__():
        found += [sub, *_models(sub)]
    return found


def _add_defaults(definition: dict[str, Any], model: type[BaseModel]) -> None:
    """Set every optional property's default as written in YAML (``2s``, not ``2.0``).

    Pydantic leaves out defaults made by a factory and does not apply serializers to them.
    """
    for name, field in model.model_fields.items():
        if field.is_required():
            continue
        default = field.get_default(call_default_factory=True, validated_data={})
        if default is PydanticUndefined:
            continue
        adapter: TypeAdapter[Any] = TypeAdapter(field.rebuild_annotation())
        key = field.alias or name
        definition["properties"][key]["default"] = adapter.dump_python(default, mode="json")
