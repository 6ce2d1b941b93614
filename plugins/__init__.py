"""audiozoo's built-in plugins, installed as the package ``audiozoo_plugins``.

Each module is an entry point in the group ``audiozoo`` (see pyproject.toml), found exactly
as a third-party plugin is. A model plugin ships its own presets (``register_presets``).
"""
