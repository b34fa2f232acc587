"""Recommend: from a task or incident in plain words to the skills that handle it.

The categories are declared here, free of pydantic, so the CLI can offer them as a
choice without loading the catalogue's models at start-up.
"""

CATEGORIES: tuple[str, ...] = ("deploy", "diagnose", "performance", "capacity", "backup",
                               "security", "network", "maintenance")
