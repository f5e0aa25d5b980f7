"""Rendering untrusted values for human messages: bounded in time, depth and size; never raises."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MAX_DEPTH = 6  # containers deeper than this are shown as "..."
_BIG_INT_BITS = 200  # ~60 digits; a longer integer is described, never converted to text
_LOG10_2 = 0.30103


class _Full(Exception):
    """Internal: the text reached its budget; rendering stops at once."""


class _Text:
    """Pieces of text up to a budget of characters."""

    def __init__(self, budget: int) -> None:
        self.parts: list[str] = []
        self.left = budget

    def add(self, piece: str) -> None:
        self.parts.append(piece[: max(self.left, 0)])
        self.left -= len(piece)
        if self.left < 0:
            raise _Full


def _scalar(value: object, limit: int) -> str | None:
    """The text of a scalar, computed from a bounded prefix of it; None for other values."""
    if value is None or isinstance(value, bool | float):
        return repr(value)
    if isinstance(value, int):
        bits = value.bit_length()
        if bits > _BIG_INT_BITS:  # str() of a 10**5000 integer raises (and is slow)
            return f"<integer of about {int(bits * _LOG10_2) + 1} digits>"
        return int.__repr__(value)
    if isinstance(value, str):  # repr escapes control characters and lone surrogates
        text = str.__repr__(str.__getitem__(value, slice(0, limit)))
        return text if len(value) <= limit else text[:-1] + "..."
    if isinstance(value, bytes | bytearray | memoryview):
        text = repr(bytes(value[:limit]))
        return text if len(value) <= limit else text[:-1] + "..."
    return None


def _items(value: object) -> tuple[str, str, Iterable[object]] | None:
    if isinstance(value, list | tuple):
        return "[", "]", value
    if isinstance(value, set | frozenset):
        return "{", "}", value
    return None


def _render_mapping(value: Mapping[object, object], out: _Text, depth: int) -> None:
    out.add("{")
    if depth >= MAX_DEPTH:
        out.add("...")
    else:
        for index, (key, inner) in enumerate(value.items()):
            if index:
                out.add(", ")
            _render(key, out, depth + 1)
            out.add(": ")
            _render(inner, out, depth + 1)
    out.add("}")


def _render(value: object, out: _Text, depth: int) -> None:
    scalar = _scalar(value, out.left + 1)
    if scalar is not None:
        out.add(scalar)
        return
    if isinstance(value, Mapping):
        _render_mapping(value, out, depth)
        return
    container = _items(value)
    if container is None:
        out.add(f"<{type(value).__name__}>")
        return
    opening, closing, items = container
    out.add(opening)
    if depth >= MAX_DEPTH:
        out.add("...")
    else:
        for index, item in enumerate(items):
            if index:
                out.add(", ")
            _render(item, out, depth + 1)
    out.add(closing)


def shown(value: object, limit: int = 64) -> str:
    """A short repr-like text of an offending value for a human message (never the whole
    payload): at most `limit` characters, whatever the value — an array nested a thousand deep,
    a 10 MB string, a 10**5000 integer, NaN, bytes, lone surrogates — and it never raises."""
    out = _Text(limit + 1)
    try:
        _render(value, out, 0)
    except _Full:
        pass
    except Exception:  # a hostile __eq__/__iter__ of some non-JSON value: describe it instead
        return f"<{type(value).__name__}>"[:limit]
    text = "".join(out.parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def described(exc: BaseException, limit: int = 120) -> str:
    """An exception as `Type: message`, bounded; for messages about internal errors."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not hide the exception's type
        message = ""
    if not message:
        return name
    text = message[:limit].encode("utf-8", "backslashreplace").decode("utf-8")
    return f"{name}: {text}..." if len(message) > limit else f"{name}: {text}"
