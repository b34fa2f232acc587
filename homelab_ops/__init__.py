"""homelab-ops: a pyinfra collection plus an agent that runs a homelab by itself."""


def __getattr__(name: str) -> str:
    """``__version__`` on demand: reading package metadata costs tens of milliseconds,
    which every command (``ask`` above all) would otherwise pay at start-up."""
    if name != "__version__":
        raise AttributeError(name)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("homelab-ops")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0.0.0+source"
