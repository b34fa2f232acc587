"""CLI command groups, one module per area. Modules stay light at import time: heavy
work and imports happen inside the command functions."""
