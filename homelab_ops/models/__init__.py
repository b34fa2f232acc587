"""Pydantic models: the one place each shape of homelab-ops is declared."""
