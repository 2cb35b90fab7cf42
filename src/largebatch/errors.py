"""The core's error types, in a module of their own so that every other module can import them at the top
without an import cycle (config, models, optim, noise and staleness all raise ConfigError)."""


class ConfigError(ValueError):
    """A bad configuration value; the message names the field and the fix."""


__all__ = ["ConfigError"]
