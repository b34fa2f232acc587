"""The sandbox homelab on this machine (see core.Lab)."""

from homelab_ops.lab.core import Lab, lab_hosts

__all__ = ["Lab", "lab_hosts"]
