"""Request validation helpers: every error names the offending field or parameter."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from typing import Any

from .errors import JSON_PARSE_ERROR, ApiError, bad, missing

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def is_hostname(name: Any) -> bool:
    if not isinstance(name, str) or not name or len(name) > 253:
        return False
    labels = name.split(".")
    if labels[0] == "*":
        labels = labels[1:]
        if len(labels) < 2:
            return False
    return all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def parse_json(raw: bytes | None, ignore: bool = False) -> dict[str, Any]:
    """Body -> dict. Empty body is {}; malformed JSON is 400 code 5021 (unless ``ignore``)."""
    if not raw or not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        if ignore:
            return {}
        raise ApiError(400, JSON_PARSE_ERROR, f"malformed JSON body: {exc}") from None
    if not isinstance(body, dict):
        if ignore:
            return {}
        raise bad("request body must be a JSON object")
    return body


def reject_unknown(body: dict[str, Any], allowed: Collection[str]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad("unknown field(s): {} (accepted: {})".format(", ".join(unknown), ", ".join(sorted(allowed))))


def req(body: dict[str, Any], field: str) -> Any:
    if field not in body or body[field] is None:
        raise missing(field)
    return body[field]


def integer(value: Any, field: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(f"field '{field}': must be an integer")
    if minimum is not None and value < minimum:
        raise bad(f"field '{field}': must be >= {minimum}")
    return value


def string(value: Any, field: str, max_len: int = 255, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise bad(f"field '{field}': must be a string")
    if not allow_empty and not value.strip():
        raise bad(f"field '{field}': must not be empty")
    if len(value) > max_len:
        raise bad(f"field '{field}': longer than {max_len} characters")
    return value


def choice(value: Any, field: str, choices: Sequence[Any]) -> Any:
    if value not in choices:
        raise bad("field '{}': {!r} is not one of {}".format(field, value, ", ".join(str(c) for c in choices)))
    return value


def hostname(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise bad(f"field '{field}': must be a string")
    if not is_hostname(value):
        raise bad(f"field '{field}': '{value}' is not a valid hostname")
    return value


def page(query: dict[str, list[str]], max_limit: int | None = MAX_LIMIT, cap: int | None = None) -> tuple[int, int]:
    """``offset``/``limit`` from the query string (400 naming the parameter when bad).

    ``max_limit``: larger limits are 400 (None: no bound); ``cap``: larger limits are silently lowered to it."""
    out = {}
    for name, default, lo, hi in (("offset", 0, 0, None), ("limit", DEFAULT_LIMIT, 1, max_limit)):
        values = query.get(name)
        if not values:
            out[name] = default
            continue
        text = values[-1].strip()
        if not re.fullmatch(r"-?\d+", text):
            raise bad(f"query parameter '{name}': '{values[-1]}' is not an integer")
        n = int(text)
        if n < lo or (hi is not None and n > hi):
            rng = f">= {lo}" if hi is None else f"between {lo} and {hi}"
            raise bad(f"query parameter '{name}': must be {rng}, got {n}")
        out[name] = n
    limit = out["limit"] if cap is None else min(out["limit"], cap)
    return out["offset"], limit
