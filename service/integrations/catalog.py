"""The integrations an account can connect to, keyed by slug, with the credentials each one needs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from service.settings import Settings, SettingsError

IRI_PREFIX = "/api/integrations/"


@dataclass(frozen=True, slots=True)
class CredentialField:
    name: str
    label: str
    secret: bool


@dataclass(frozen=True, slots=True)
class Integration:
    """One messaging network; `required` lists alternative field sets, any one of which must be given."""

    slug: str
    name: str
    provider: str
    type: str
    fields: tuple[CredentialField, ...]
    required: tuple[tuple[str, ...], ...]

    @property
    def iri(self) -> str:
        return IRI_PREFIX + self.slug

    @property
    def field_names(self) -> frozenset[str]:
        return frozenset(field.name for field in self.fields)


def _field(name: str, label: str, *, secret: bool = True) -> CredentialField:
    return CredentialField(name, label, secret)


INTEGRATIONS: tuple[Integration, ...] = (
    Integration(
        "whatsapp",
        "WhatsApp",
        "whatsapp",
        "whatsapp",
        (
            _field("phoneNumberId", "Phone number ID (WhatsApp Cloud API)", secret=False),
            _field("accessToken", "Access token"),
            _field("businessAccountId", "WhatsApp Business account ID (optional)", secret=False),
        ),
        (("phoneNumberId", "accessToken"),),
    ),
    Integration(
        "linkedin",
        "LinkedIn",
        "linkedin",
        "linkedin",
        (
            _field("username", "E-mail or phone number", secret=False),
            _field("password", "Password"),
            _field("cookie", "Session cookie (li_at)"),
        ),
        (("username", "password"), ("cookie",)),
    ),
    Integration(
        "instagram",
        "Instagram",
        "instagram",
        "instagram",
        (
            _field("username", "Username", secret=False),
            _field("password", "Password"),
            _field("sessionId", "Session cookie (sessionid)"),
        ),
        (("username", "password"), ("sessionId",)),
    ),
    Integration(
        "telegram",
        "Telegram",
        "telegram",
        "telegram",
        (_field("botToken", "Bot token"),),
        (("botToken",),),
    ),
    Integration(
        "gmail",
        "Gmail",
        "gmail",
        "gmail",
        (
            _field("email", "E-mail address", secret=False),
            _field("refreshToken", "OAuth refresh token"),
            _field("appPassword", "App password"),
        ),
        (("email", "refreshToken"), ("email", "appPassword")),
    ),
    Integration(
        "outlook",
        "Outlook",
        "outlook",
        "outlook",
        (
            _field("email", "E-mail address", secret=False),
            _field("refreshToken", "OAuth refresh token"),
        ),
        (("email", "refreshToken"),),
    ),
)

SLUGS: tuple[str, ...] = tuple(integration.slug for integration in INTEGRATIONS)


class Catalog:
    """The integrations, with which of them accept new accounts in this deployment."""

    def __init__(self, available: Iterable[str]) -> None:
        self._by_slug = {integration.slug: integration for integration in INTEGRATIONS}
        self.available = frozenset(available)
        unknown = self.available - self._by_slug.keys()
        if unknown:
            raise ValueError(f"unknown integrations: {', '.join(sorted(unknown))}")

    def __iter__(self) -> Iterator[Integration]:
        return iter(INTEGRATIONS)

    def __len__(self) -> int:
        return len(INTEGRATIONS)

    def get(self, slug: str) -> Integration | None:
        return self._by_slug.get(slug)

    def resolve(self, reference: str) -> Integration | None:
        """Find an integration by slug or by IRI (`/api/integrations/whatsapp`)."""
        return self._by_slug.get(slug_of(reference))

    def is_available(self, integration: Integration) -> bool:
        return integration.slug in self.available


def slug_of(reference: str) -> str:
    """The slug named by a slug or an integration IRI."""
    return reference[len(IRI_PREFIX) :] if reference.startswith(IRI_PREFIX) else reference


def parse_available(text: str) -> frozenset[str]:
    """Read the comma-separated list of available integration slugs."""
    return frozenset(part.strip().lower() for part in text.split(",") if part.strip())


def load_catalog(settings: Settings) -> Catalog:
    """The catalog of this deployment; an unknown slug in INTEGRATIONS_AVAILABLE stops start-up."""
    available = parse_available(settings.integrations_available)
    if unknown := sorted(available - set(SLUGS)):
        raise SettingsError(
            f"INTEGRATIONS_AVAILABLE names unknown integrations ({', '.join(unknown)}); "
            f"known: {', '.join(SLUGS)}"
        )
    return Catalog(available)
