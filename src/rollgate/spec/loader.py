"""Load rollgate.yaml: YAML with positions, pydantic validation, ``file:line: field: message``."""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from rollgate.errors import SpecError
from rollgate.spec.models import NAME, Spec

Loc = tuple[str | int, ...]
Problem = tuple[int, str]  # (line, "path: message")

_ONE_OF = {"union_tag_invalid", "literal_error"}
_TYPE_WORDS = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "less_than_equal": ("le", "at most"),
    "greater_than": ("gt", "greater than"),
    "less_than": ("lt", "less than"),
}
_NAME_RULE = "must be lowercase letters, digits and dashes, starting with a letter"


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that keeps timestamps as the strings they were written as."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_str)


def load_spec(path: str | Path) -> Spec:
    """Read and validate the spec file at ``path``; raise SpecError naming file and line."""
    filename = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{filename}: no such file (create one with `rollgate init`)") from None
    except UnicodeDecodeError:
        raise SpecError(f"{filename}: not a UTF-8 text file") from None
    except OSError as exc:
        raise SpecError(f"{filename}: cannot read: {exc.strerror}") from None
    return parse_spec(text, filename)


def parse_spec(text: str, filename: str) -> Spec:
    """Validate spec ``text``; ``filename`` is only used to prefix problems."""
    root = _load_yaml(text, filename)
    try:
        return Spec.model_validate(_plain(root))
    except ValidationError as exc:
        found = [p for err in exc.errors(include_url=False) for p in _problems(err, root)]
        _fail(filename, found)


def _fail(filename: str, found: list[Problem]) -> NoReturn:
    """Raise a SpecError with one ``FILE:LINE: ...`` problem per entry, sorted by line."""
    ordered = sorted(found, key=lambda p: p[0])
    problems = list(dict.fromkeys(f"{filename}:{line}: {text}" for line, text in ordered))
    raise SpecError("\n".join(problems), problems)


def _load_yaml(text: str, filename: str) -> CommentedMap:
    """Parse YAML keeping positions; the top level must be a mapping."""
    try:
        yaml = YAML(typ="rt")
        yaml.Constructor = _Constructor
        root = yaml.load(text)
    except MarkedYAMLError as exc:
        _fail(filename, [(_mark_line(exc), f"invalid YAML: {_yaml_problem(exc)}")])
    except YAMLError as exc:
        _fail(filename, [(1, f"invalid YAML: {exc}")])
    if root is None:
        _fail(filename, [(1, "the spec is empty (expected project, services and environments)")])
    if not isinstance(root, CommentedMap):
        _fail(filename, [(1, f"the top level must be a mapping (got {_show(root)})")])
    return root


def _mark_line(exc: MarkedYAMLError) -> int:
    mark = exc.problem_mark or exc.context_mark
    return int(mark.line) + 1 if mark is not None else 1


def _yaml_problem(exc: MarkedYAMLError) -> str:
    """Ruamel's problem text, plus where an unclosed construct started."""
    problem = str(exc.problem or exc.context or exc).strip()
    start, end = exc.context_mark, exc.problem_mark
    if (
        exc.problem
        and exc.context
        and start is not None
        and end is not None
        and start.line != end.line
        and not isinstance(exc, DuplicateKeyError)
    ):
        problem += f" ({exc.context} started on line {start.line + 1})"
    return problem


def _plain(node: Any) -> Any:
    """Turn ruamel's round-trip containers and scalars into plain Python values."""
    if isinstance(node, Mapping):
        return {_plain(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool | ScalarBoolean):
        return bool(node)
    for kind in (int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


def _problems(err: ErrorDetails, root: CommentedMap) -> list[Problem]:
    """Translate one pydantic error into (line, "path: message") problems."""
    if err["type"] == "unknown_reference":
        out = []
        for line in err["msg"].splitlines():
            dotted, _, message = line.partition(": ")
            path = _parse_path(dotted)
            out.append((_line(root, path), f"{_render(path)}: {message}"))
        return out
    path, owner, at = _resolve(err["loc"])
    message = _message(err, path, owner, at)
    if err["type"] in {"union_tag_invalid", "union_tag_not_found"}:
        path.append(str(err.get("ctx", {}).get("discriminator", "kind")).strip("'"))
    return [(_line(root, path), f"{_render(path)}: {message}" if path else message)]


def _message(
    err: ErrorDetails, path: list[str | int], owner: type[BaseModel] | None, at: Any
) -> str:
    """Plain words for one pydantic error."""
    kind, ctx, got = err["type"], err.get("ctx", {}), _show(err.get("input"))
    if kind == "missing":
        return "required field missing"
    if kind == "extra_forbidden" and owner is not None:
        allowed = list(owner.model_fields)
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        hint = f", did you mean {close[0]!r}?" if close else ""
        return f"unknown key{hint} (allowed: {', '.join(allowed)})"
    if kind in _ONE_OF:
        expected = str(ctx.get("expected_tags") or ctx.get("expected", ""))
        choices = expected.replace(" or ", ", ").replace("'", "")
        return f"must be one of {choices}"
    if kind == "union_tag_not_found":
        return f"required field missing (must be one of {', '.join(_tags(at))})"
    if kind == "string_type" and isinstance(err.get("input"), bool | int | float):
        return f"must be a string (got {got}; quote it: '{got}')"
    if kind in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[kind]} (got {got})"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == NAME:
            too_long = isinstance(err.get("input"), str) and len(err["input"]) > 63
            return "must be at most 63 characters" if too_long else f"{_NAME_RULE} (got {got})"
        return f"must match {ctx.get('pattern')} (got {got})"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"must be {words} {ctx.get(key)} (got {got})"
    if kind in {"too_short", "too_long"}:
        size = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        if kind == "too_short" and size == 1:
            return "must not be empty"
        return f"must have at {'least' if kind == 'too_short' else 'most'} {size} entries"
    return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _show(value: Any) -> str:
    """A value the way the user wrote it in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return str(value)


def _resolve(loc: Loc) -> tuple[list[str | int], type[BaseModel] | None, Any]:
    """Drop union tags and ``[key]`` from ``loc``.

    Returns the user-facing path, the model owning the last key and the type at the end.
    """
    path: list[str | int] = []
    owner: type[BaseModel] | None = None
    at: Any = Spec
    for seg in loc:
        at = _unwrap(at)
        if seg == "[key]":
            continue
        if _is_model(at):
            owner = at
            field = at.model_fields.get(seg) if isinstance(seg, str) else None
            at = field.annotation if field is not None else None
        elif get_origin(at) is dict:
            at = get_args(at)[1]
        elif get_origin(at) is list:
            at = get_args(at)[0]
        elif _is_union(at) and (variant := _variant(at, seg)) is not None:
            at = variant
            continue
        else:
            at = None
        path.append(seg)
    return path, owner, _unwrap(at)


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``| None`` around a type."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif _is_union(tp) and type(None) in get_args(tp):
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _variant(union: Any, tag: str | int) -> Any:
    """The member of a tagged union that ``tag`` selects, or None."""
    for member in get_args(union):
        if tag in _member_tags(member):
            return _unwrap(member)
    return None


def _tags(union: Any) -> list[str]:
    """The tags a discriminated union accepts, in order."""
    if not _is_union(union):
        return []
    return [t for member in get_args(union) for t in _member_tags(member)[:1]]


def _member_tags(member: Any) -> list[str]:
    """Tags naming one union member: its ``kind`` literal, its Tag, its class name."""
    tags = [m.tag for m in getattr(member, "__metadata__", ()) if isinstance(m, Tag)]
    model = _unwrap(member)
    if _is_model(model):
        kind = model.model_fields.get("kind")
        if kind is not None and get_origin(kind.annotation) is Literal:
            tags = [str(a) for a in get_args(kind.annotation)] + tags
        tags.append(model.__name__)
    return tags


def _parse_path(dotted: str) -> list[str | int]:
    """``a.b[0].c`` -> ``["a", "b", 0, "c"]``."""
    path: list[str | int] = []
    for part in dotted.split("."):
        name, *indexes = part.split("[")
        path.append(name)
        path.extend(int(i.rstrip("]")) for i in indexes)
    return path


def _render(path: list[str | int]) -> str:
    """``["a", "b", 0, "c"]`` -> ``a.b[0].c``."""
    out = ""
    for seg in path:
        out += f"[{seg}]" if isinstance(seg, int) else f".{seg}" if out else str(seg)
    return out


def _line(root: CommentedMap, path: list[str | int]) -> int:
    """1-based line of the deepest key or item of ``path`` present in the YAML."""
    line, node = 1, root
    for seg in path:
        try:
            if isinstance(node, CommentedMap) and seg in node:
                line, node = node.lc.key(seg)[0] + 1, node[seg]
            elif isinstance(node, CommentedSeq) and isinstance(seg, int) and seg < len(node):
                line, node = node.lc.item(seg)[0] + 1, node[seg]
            else:
                break
        except KeyError:  # merged (<<) keys have no position of their own
            break
    return int(line)
