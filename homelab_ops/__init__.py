"""homelab-ops: a pyinfra collection plus an agent that runs a homelab by itself."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("homelab-ops")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
