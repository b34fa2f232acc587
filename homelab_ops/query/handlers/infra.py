"""Questions about networks, filesystems and the health score of the hosts."""

from __future__ import annotations

from homelab_ops.query.fmt import size
from homelab_ops.query.handlers import Answer, Context, no_observation


def network_members(ctx: Context, slots: dict[str, str]) -> Answer:
    name = slots["network"]
    lines, data = [], []
    for host, doc in ctx.latest.items():
        for net in doc.get("networks", []):
            if net["name"] != name:
                continue
            where = f" on {host}" if ctx.many_hosts else ""
            members = net.get("members", [])
            subnets = ", ".join(net.get("subnets", [])) or "no subnet"
            lines.append(f"Network {name}{where} ({net.get('driver') or '?'}, {subnets}): "
                         + (", ".join(members) if members else "no containers") + ".")
            data.append({"host": host, "network": name, "members": members,
                         "subnets": net.get("subnets", []), "driver": net.get("driver")})
    return Answer(lines, data, ctx.observed_at, ["observations"])


def network_overview(ctx: Context, slots: dict[str, str]) -> Answer:
    if not ctx.latest:
        return no_observation()
    lines, data = [], []
    for host, doc in ctx.latest.items():
        nets = doc.get("networks", [])
        lines.append(f"{host}: {len(nets)} networks" if ctx.many_hosts
                     else f"{len(nets)} networks:")
        for net in nets:
            members = net.get("members", [])
            lines.append(f"  {net['name']}: {len(members)} containers"
                         + (f" ({', '.join(members)})" if members else ""))
            data.append({"host": host, "network": net["name"], "members": members})
    return Answer(lines, data, ctx.observed_at, ["observations"])


def _used_pct(fs: dict) -> float:
    """As df computes it (and as the observation model does): used / (used + avail)."""
    usable = fs["used_bytes"] + fs["avail_bytes"]
    return 100.0 * fs["used_bytes"] / usable if usable else 0.0


def disk_summary(ctx: Context, slots: dict[str, str]) -> Answer:
    if not ctx.latest:
        return no_observation()
    rows = [(_used_pct(fs), host, fs) for host, doc in ctx.latest.items()
            for fs in doc.get("filesystems", [])]
    rows.sort(key=lambda r: -r[0])
    lines = []
    if rows:
        pct, host, fs = rows[0]
        where = f" on {host}" if ctx.many_hosts else ""
        lines.append(f"Fullest: {fs['mountpoint']}{where} at {pct:.0f} % "
                     f"({size(fs['avail_bytes'])} free).")
    lines += [f"  {fs['mountpoint']}{f' ({h})' if ctx.many_hosts else ''}: {p:.0f} % used, "
              f"{size(fs['avail_bytes'])} free" for p, h, fs in rows]
    warnings = [r for doc in ctx.latest.values() for r in (doc.get("health") or {})
                .get("reasons", []) if r["code"].startswith("disk_")]
    lines += [f"  ! {r['message']}" for r in warnings]
    data = [{"host": h, "mountpoint": fs["mountpoint"], "used_pct": round(p, 1),
             "avail_bytes": fs["avail_bytes"]} for p, h, fs in rows]
    return Answer(lines or ["No filesystems observed."], data, ctx.observed_at,
                  ["observations"])


def disk_detail(ctx: Context, slots: dict[str, str]) -> Answer:
    """Size, used and free per filesystem, and for BTRFS the chunk allocation, since a
    BTRFS pool can be "full" with unallocated space gone while df still shows room."""
    if not ctx.latest:
        return no_observation()
    only = slots.get("filesystem")
    lines, data = [], []
    for host, doc in ctx.latest.items():
        for fs in doc.get("filesystems", []):
            if only and fs["mountpoint"] != only:
                continue
            where = f" ({host})" if ctx.many_hosts else ""
            lines.append(f"{fs['mountpoint']}{where} {fs['fstype']} on {fs['device']}: "
                         f"{size(fs['used_bytes'])} used of {size(fs['size_bytes'])}, "
                         f"{size(fs['avail_bytes'])} free ({_used_pct(fs):.0f} %)")
            b = fs.get("btrfs")
            if b:
                lines.append(f"    btrfs: {size(b['allocated'])} allocated, "
                             f"{size(b['unallocated'])} unallocated, "
                             f"~{size(b['free_estimated'])} free (estimated)")
            data.append({"host": host, **fs, "used_pct": round(_used_pct(fs), 1)})
    return Answer(lines or ["No filesystems observed."], data, ctx.observed_at,
                  ["observations"])


def health_score(ctx: Context, slots: dict[str, str]) -> Answer:
    if not ctx.latest:
        return no_observation()
    lines, data = [], []
    for host, doc in ctx.latest.items():
        health = doc.get("health") or {}
        score = health.get("score")
        lines.append(f"{host}: health {score if score is not None else '?'}/100")
        lines += [f"  -{r['penalty']}: {r['message']}" for r in health.get("reasons", [])]
        data.append({"host": host, "score": score, "reasons": health.get("reasons", [])})
    return Answer(lines, data, ctx.observed_at, ["observations"])


HANDLERS = {"network_members": network_members, "network_overview": network_overview,
            "disk_summary": disk_summary, "disk_detail": disk_detail,
            "health_score": health_score}
