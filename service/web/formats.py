"""Content negotiation between API Platform's JSON-LD (the default) and plain JSON."""

from __future__ import annotations

import enum

from service.errors import NotAcceptable


class Format(enum.Enum):
    JSONLD = "application/ld+json"
    JSON = "application/json"

    @property
    def linked(self) -> bool:
        return self is Format.JSONLD


_BY_MEDIA_TYPE = {
    "application/ld+json": Format.JSONLD,
    "application/json": Format.JSON,
    "application/problem+json": Format.JSON,
    "application/*": Format.JSONLD,
    "*/*": Format.JSONLD,
}


def negotiate(accept: str | None) -> Format:
    """Pick the best format the Accept header allows; an Accept that allows none of them is 406."""
    if not accept or not accept.strip():
        return Format.JSONLD
    best: tuple[float, int, Format] | None = None
    for order, part in enumerate(accept.split(",")):
        media_type, _, params = part.strip().partition(";")
        chosen = _BY_MEDIA_TYPE.get(media_type.strip().lower())
        quality = _quality(params)
        if chosen is None or quality <= 0:
            continue
        candidate = (quality, -order, chosen)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:
        raise NotAcceptable(f'Requested format "{accept}" is not supported.')
    return best[2]


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0
