"""All schema shaping for `tools/list`, in one place, with one convention for optional and nullable values.

Every character of `tools/list` sits in the model's context on every turn, so published schemas are
compacted; their meaning does not change:

- generated `title`s (they repeat the property names) and `default: null` are dropped;
- a nullable value is written `type: [T, "null"]` rather than `anyOf: [{type: T}, {type: null}]`;
- except in an input schema, where an optional argument whose default is null is published without
  its `null` branch: leaving an argument out is how a caller says "not set" (an explicit null is still
  accepted by the validating model);
- a `$defs` entry used once is written where it is used;
- bounds that tell a model nothing are left out of input schemas: the element type of a "value or
  list" (`type: [T, "array"]` says it), string lengths and patterns, an integer's `minimum: 1`, maxima
  beyond 2^53, and `default: false` of a flag; the validating model still enforces every one of them,
  with a sentence naming the argument;
- output schemas carry types only: no `default` and no `required` (a result always has every field)
  and no descriptions (hosts rarely show output schemas to a model; each result explains itself in its
  `message`, and the field descriptions stay in the code for developers).

The models (`lox24_mcp.lox24.models`, `lox24_mcp.mcp.results`) declare types and descriptions only.
"""

from __future__ import annotations

import json
from typing import Any

_NULL = {"type": "null"}
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf")


def publish_input(schema: dict[str, Any]) -> dict[str, Any]:
    """Shape a tool's input schema in place (and return it)."""
    _walk(schema, inputs=True)
    _inline_single_use_defs(schema)
    return schema


def publish_output(schema: dict[str, Any]) -> dict[str, Any]:
    """Shape a tool's output schema in place (and return it)."""
    _walk(schema, inputs=False)
    _inline_single_use_defs(schema)
    return schema


def _walk(node: Any, *, inputs: bool) -> None:
    if not isinstance(node, dict):
        return
    if isinstance(node.get("title"), str):
        del node["title"]
    optional: set[str] = set()
    properties = node.get("properties")
    if inputs and isinstance(properties, dict):
        required = set(node.get("required", ()))
        optional = {name for name, sub in properties.items() if name not in required and _defaults_to_null(sub)}
    if "default" in node and (node["default"] is None or not inputs):
        del node["default"]
    if not inputs:
        node.pop("required", None)
        if isinstance(node.get("description"), str):
            del node["description"]
    _merge_nullable(node)
    if inputs:
        _drop_silent_bounds(node)
    for key, value in node.items():
        if key in ("properties", "$defs") and isinstance(value, dict):
            for name, sub in value.items():
                if key == "properties" and name in optional:
                    _drop_null_branch(sub)
                _walk(sub, inputs=inputs)
        elif key in ("items", "additionalProperties"):
            _walk(value, inputs=inputs)
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            for sub in value:
                _walk(sub, inputs=inputs)


def _drop_silent_bounds(node: dict[str, Any]) -> None:
    kind = node.get("type")
    if isinstance(kind, list) and "array" in kind and len(set(kind) - {"array", "null"}) >= 1:
        node.pop("items", None)
    for key in ("minLength", "maxLength", "pattern"):
        node.pop(key, None)
    if node.get("type") == "boolean" and node.get("default") is False:
        del node["default"]
    if isinstance(node.get("maximum"), int) and node["maximum"] > 2**53:
        del node["maximum"]
    if node.get("type") == "integer" and node.get("minimum") == 1:
        del node["minimum"]


def _defaults_to_null(node: Any) -> bool:
    return isinstance(node, dict) and "default" in node and node["default"] is None


def _drop_null_branch(node: dict[str, Any]) -> None:
    """`anyOf: [X, null]` → X, for an optional input whose absence already means null."""
    branches = node.get("anyOf")
    if not isinstance(branches, list) or _NULL not in branches:
        return
    kept = [branch for branch in branches if branch != _NULL]
    if len(kept) == 1 and isinstance(kept[0], dict):
        del node["anyOf"]
        for key, value in kept[0].items():
            node.setdefault(key, value)
    else:
        node["anyOf"] = kept


def _merge_nullable(node: dict[str, Any]) -> None:
    """`anyOf: [{type: T, …}, {type: null}]` → `type: [T, "null"]` where that means the same."""
    branches = node.get("anyOf")
    if not isinstance(branches, list) or len(branches) != 2 or _NULL not in branches:
        return
    other = branches[0] if branches[1] == _NULL else branches[1]
    # Only a plain typed branch: its other keywords (maxLength, minimum, items, …) ignore null anyway;
    # enum/const would reject null and $ref/combinators carry no single type.
    if not isinstance(other, dict) or not isinstance(other.get("type"), str):
        return
    if other.keys() & {"enum", "const", "$ref", "anyOf", "oneOf", "allOf", "not"} or other.keys() & node.keys():
        return
    del node["anyOf"]
    node.update(other)
    node["type"] = [other["type"], "null"]


def _inline_single_use_defs(schema: dict[str, Any]) -> None:
    """Write a `$defs` entry that is referenced once where it is used.

    Shorter, easier for a model to read, and much cheaper for clients that validate results with
    `jsonschema`, which resolves a `$ref` for every item of a list (search results, previews).
    """
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return
    text = json.dumps(schema)
    for name in list(defs):
        ref = f"#/$defs/{name}"
        quoted = json.dumps(ref)
        if text.count(quoted) != 1 or quoted in json.dumps(defs[name]):
            continue  # used more than once, or recursive
        if _replace_ref(schema, ref, defs[name]):
            del defs[name]
    if not defs:
        del schema["$defs"]


def _replace_ref(node: Any, ref: str, target: dict[str, Any]) -> bool:
    if isinstance(node, dict):
        if node.get("$ref") == ref:
            del node["$ref"]
            for key, value in target.items():
                node.setdefault(key, value)
            return True
        return any(_replace_ref(value, ref, target) for value in node.values())
    if isinstance(node, list):
        return any(_replace_ref(value, ref, target) for value in node)
    return False
