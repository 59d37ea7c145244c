"""Outcomes across a process boundary: JSON for structure, safetensors for tensors, never pickle.

A learner's function may return anything. Tensors, numbers, strings, booleans, None, lists, tuples and
dicts round-trip exactly; anything else comes back as an `Opaque` stand-in (its type and a short repr),
which equals nothing, so the judge reports it as the wrong type.
"""

from __future__ import annotations

import json
import math
from typing import Any

import torch

from gptlab.course.checks.core import Outcome

MAX_DEPTH = 20
MAX_ITEMS = 100_000
MAX_MESSAGE = 500


class Opaque:
    """A value that could not cross the process boundary; it equals nothing."""

    def __init__(self, description: str):
        self.description = description[:200]

    def __eq__(self, other: Any) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return self.description


class SerializationError(ValueError):
    pass


def encode_outcomes(outcomes: list[Outcome], tensors: dict[str, torch.Tensor]) -> list[dict]:
    """Outcomes -> JSON-able dicts; tensors are added to `tensors` (key -> plain, contiguous CPU tensor)."""
    return [{"value": _encode(o.value, tensors, 0) if not o.raised else None,
             "error_type": o.error_type, "error_message": (o.error_message or "")[:MAX_MESSAGE],
             "mutated_input": bool(o.mutated_input)} for o in outcomes]


def decode_outcomes(items: Any, tensors: dict[str, torch.Tensor]) -> list[Outcome]:
    """The inverse of encode_outcomes; raises SerializationError on anything malformed."""
    if not isinstance(items, list):
        raise SerializationError("outcomes must be a list")
    outcomes = []
    for item in items:
        if not isinstance(item, dict):
            raise SerializationError("an outcome must be an object")
        error_type = item.get("error_type")
        if error_type is not None and not isinstance(error_type, str):
            raise SerializationError("error_type must be a string")
        message = item.get("error_message", "")
        outcomes.append(Outcome(value=None if error_type else _decode(item.get("value"), tensors, 0),
                                error_type=error_type[:100] if error_type else None,
                                error_message=str(message)[:MAX_MESSAGE],
                                mutated_input=item.get("mutated_input") is True))
    return outcomes


def _encode(value: Any, tensors: dict, depth: int) -> Any:
    if depth > MAX_DEPTH:
        return {"__opaque__": "a structure nested too deeply"}
    if isinstance(value, torch.Tensor):
        try:
            plain = value.detach().as_subclass(torch.Tensor).cpu().clone().contiguous()  # drops subclasses
        except Exception as error:  # e.g. a sparse or meta tensor
            return {"__opaque__": f"a tensor that cannot be copied ({type(error).__name__})"}
        if plain.layout != torch.strided or plain.is_complex():
            return {"__opaque__": f"a tensor of dtype {plain.dtype} and layout {plain.layout}"}
        key = f"t{len(tensors)}"
        tensors[key] = plain
        return {"__tensor__": key}
    if value is None or isinstance(value, (bool, str)):
        return value if not isinstance(value, str) else value[:10_000]
    if isinstance(value, int):
        return value if abs(value) < 2**62 else {"__float__": str(float(value))}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, tensors, depth + 1) for v in list(value)[:MAX_ITEMS]]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, tensors, depth + 1), _encode(v, tensors, depth + 1)]
                             for k, v in list(value.items())[:MAX_ITEMS]]}
    try:
        text = repr(value)
    except Exception:
        text = "?"
    return {"__opaque__": f"{type(value).__name__} {text[:150]}"}


def _decode(value: Any, tensors: dict, depth: int) -> Any:
    if depth > MAX_DEPTH + 1:
        raise SerializationError("structure nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, tensors, depth + 1) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        (tag, inner), = value.items()
        if tag == "__tensor__":
            if inner not in tensors:
                raise SerializationError(f"missing tensor {inner!r}")
            return tensors[inner]
        if tag == "__tuple__" and isinstance(inner, list):
            return tuple(_decode(v, tensors, depth + 1) for v in inner)
        if tag == "__dict__" and isinstance(inner, list):
            out = {}
            for pair in inner:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise SerializationError("malformed dict item")
                key = _decode(pair[0], tensors, depth + 1)
                try:
                    out[key] = _decode(pair[1], tensors, depth + 1)
                except TypeError:  # an unhashable key
                    return Opaque("a dict with unhashable keys")
            return out
        if tag == "__float__" and isinstance(inner, str):
            return float(inner)
        if tag == "__opaque__":
            return Opaque(str(inner))
    raise SerializationError(f"unexpected value {str(value)[:80]!r}")


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, allow_nan=False)
