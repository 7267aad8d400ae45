import pytest

from service.errors import NotAcceptable
from service.web.formats import Format, negotiate


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, Format.JSONLD),
        ("", Format.JSONLD),
        ("*/*", Format.JSONLD),
        ("application/ld+json", Format.JSONLD),
        ("application/json", Format.JSON),
        ("text/html, application/json;q=0.9", Format.JSON),
        ("application/json;q=0.5, application/ld+json", Format.JSONLD),
        ("application/ld+json;q=0.1, application/json;q=0.8", Format.JSON),
    ],
)
def test_negotiation_picks_the_preferred_supported_format(accept: str | None, expected: Format) -> None:
    assert negotiate(accept) is expected


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/json;q=0"])
def test_unsupported_accept_is_406(accept: str) -> None:
    with pytest.raises(NotAcceptable):
        negotiate(accept)
