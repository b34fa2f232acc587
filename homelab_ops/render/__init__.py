"""What a person reads: one renderer module per concept, from a command's JSON-shaped
result to the terminal. A renderer that draws rich tables is imported inside its
command, so no other command and no ``--json`` run pays for rich."""


def mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.0f} MiB"
