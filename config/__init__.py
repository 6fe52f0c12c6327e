"""Settings: defaults <- $DOSSIER_HOME/config.toml <- DOSSIER_* environment <- overrides."""

from config.settings import Settings, SettingsError, load_settings

__all__ = ["Settings", "SettingsError", "load_settings"]
