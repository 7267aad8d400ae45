"""Configuration read from the environment, once, into one typed value."""

from service.settings.checks import SettingsError
from service.settings.loading import load_settings
from service.settings.model import Settings

__all__ = ["Settings", "SettingsError", "load_settings"]
