"""The skill catalogue's categories, free of pydantic: the CLI offers them as a choice
at start-up without loading the catalogue's models."""

CATEGORIES: tuple[str, ...] = ("deploy", "diagnose", "performance", "capacity", "backup",
                               "security", "network", "maintenance")
