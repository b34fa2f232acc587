"""What a person reads: one renderer module per concept, from a command's JSON-shaped
result to the terminal. Commands import one only when a human reads (never on the
``--json`` path), so a module here may pull in rich."""


def mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.0f} MiB"
