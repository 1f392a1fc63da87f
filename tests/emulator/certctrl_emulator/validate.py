"""Request validation helpers: every error names the offending field or parameter."""

import json
import re

from .errors import JSON_PARSE_ERROR, ApiError, bad, missing

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def is_hostname(name):
    if not isinstance(name, str) or not name or len(name) > 253:
        return False
    labels = name.split(".")
    if labels[0] == "*":
        labels = labels[1:]
        if len(labels) < 2:
            return False
    return all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def parse_json(raw, ignore=False):
    """Body -> dict. Empty body is {}; malformed JSON is 400 code 5021 (unless ``ignore``)."""
    if not raw or not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        if ignore:
            return {}
        raise ApiError(400, JSON_PARSE_ERROR, "malformed JSON body: %s" % exc)
    if not isinstance(body, dict):
        if ignore:
            return {}
        raise bad("request body must be a JSON object")
    return body


def reject_unknown(body, allowed):
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad("unknown field(s): %s (accepted: %s)" % (", ".join(unknown), ", ".join(sorted(allowed))))


def req(body, field):
    if field not in body or body[field] is None:
        raise missing(field)
    return body[field]


def integer(value, field, minimum=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad("field '%s': must be an integer" % field)
    if minimum is not None and value < minimum:
        raise bad("field '%s': must be >= %d" % (field, minimum))
    return value


def string(value, field, max_len=255, allow_empty=True):
    if not isinstance(value, str):
        raise bad("field '%s': must be a string" % field)
    if not allow_empty and not value.strip():
        raise bad("field '%s': must not be empty" % field)
    if len(value) > max_len:
        raise bad("field '%s': longer than %d characters" % (field, max_len))
    return value


def choice(value, field, choices):
    if value not in choices:
        raise bad("field '%s': %r is not one of %s" % (field, value, ", ".join(choices)))
    return value


def hostname(value, field):
    if not isinstance(value, str):
        raise bad("field '%s': must be a string" % field)
    if not is_hostname(value):
        raise bad("field '%s': '%s' is not a valid hostname" % (field, value))
    return value


def page(query):
    """``offset``/``limit`` from the query string (400 naming the parameter when bad)."""
    out = {}
    for name, default, lo, hi in (("offset", 0, 0, None), ("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)):
        values = query.get(name)
        if not values:
            out[name] = default
            continue
        text = values[-1].strip()
        if not re.fullmatch(r"-?\d+", text):
            raise bad("query parameter '%s': '%s' is not an integer" % (name, values[-1]))
        n = int(text)
        if n < lo or (hi is not None and n > hi):
            rng = ">= %d" % lo if hi is None else "between %d and %d" % (lo, hi)
            raise bad("query parameter '%s': must be %s, got %d" % (name, rng, n))
        out[name] = n
    return out["offset"], out["limit"]
