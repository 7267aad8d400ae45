"""Reading the environment into `Settings`, once; a bad value is an error naming its variable."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import msgspec

from service.settings.checks import SettingsError
from service.settings.model import Settings

_FIELD_PATH = re.compile(r"`\$\.(\w+)`")
_MISSING_FIELD = re.compile(r"missing required field `(\w+)`")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the environment; raise SettingsError naming the bad variable."""
    env = os.environ if environ is None else environ
    names = {field.upper() for field in Settings.__struct_fields__}
    values = {name: env[name] for name in names if name in env and env[name] != ""}
    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    if missing := _MISSING_FIELD.search(text):
        return f"{missing.group(1)} is required but not set"
    if field := _FIELD_PATH.search(text):
        variable = field.group(1)
        reason = text.split(" - at ", 1)[0]
        return f"{variable} is invalid: {reason}"
    return text
