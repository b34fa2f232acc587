"""``homelab-ops audit``: a security audit of what runs. Ports published beyond
loopback, web services traefik routes without authelia in front (nor a declared sign-in
of their own), secret files others may read, privileged containers.

The rules are pure functions over the facts' shapes; ``audit`` only gathers them.
"""

from __future__ import annotations

import ipaddress
import posixpath

from pyinfra.api import Inventory

from homelab_ops.models.diagnosis import (
    SEVERITY_ORDER,
    AuditFinding,
    AuditReport,
    SecretFileLook,
    Severity,
)
from homelab_ops.models.observation import ContainerObs
from homelab_ops.models.stack import AUTH_LABEL, AUTH_VALUES, PATTERN_LABEL, STACK_LABEL

PROXY_PATTERN = "reverse-proxy"
ROUTER, MIDDLEWARE = "traefik.http.routers.", "traefik.http.middlewares."


def _finding(code: str, severity: Severity, host: str, c: str, what: str, fix: str,
             **evidence) -> AuditFinding:
    return AuditFinding(code=code, severity=severity, host=host, subject=c, message=what,
                        fix=fix, evidence=evidence)


def port_findings(host: str, c: ContainerObs) -> list[AuditFinding]:
    """A port on every interface bypasses the proxy and authelia; on one non-loopback
    address it is meant for that network (the proxy's is its job)."""
    out = []
    proxy = c.labels.get(PATTERN_LABEL) == PROXY_PATTERN
    for p in c.ports:
        where = f"{p.host_ip}:{p.host_port}->{p.container_port}/{p.protocol}"
        ip = ipaddress.ip_address(p.host_ip or "0.0.0.0")
        if ip.is_loopback:
            continue
        fix = (f"set `publish_ip: 127.0.0.1` in stack {c.labels[STACK_LABEL]} and reach it "
               "through the proxy" if STACK_LABEL in c.labels
               else f"publish it as -p 127.0.0.1:{p.host_port}:{p.container_port}")
        if ip.is_unspecified:
            severity: Severity = "medium" if proxy else "high"
            fix = ("publish the proxy on the host's LAN address only" if proxy else fix)
            out.append(_finding("port_all_interfaces", severity, host, c.name,
                                f"port {where} is published on every interface", fix,
                                port=where))
        elif not proxy:
            out.append(_finding("port_beyond_loopback", "medium", host, c.name,
                                f"port {where} is reachable from {p.host_ip}'s network, "
                                "past the proxy", fix, port=where))
    return out


def forward_auth(containers: list[ContainerObs]) -> set[str]:
    """Names of the forward-auth middlewares any container declares (authelia's)."""
    return {key[len(MIDDLEWARE):].split(".", 1)[0]
            for c in containers for key in c.labels
            if key.startswith(MIDDLEWARE) and ".forwardauth.address" in key}


def auth_findings(host: str, c: ContainerObs, guards: set[str]) -> list[AuditFinding]:
    """Every traefik router of ``c`` needs authelia (a forward-auth middleware) unless
    the service declares who signs users in (AUTH_LABEL)."""
    if c.labels.get("traefik.enable") != "true":
        return []
    declared = c.labels.get(AUTH_LABEL, "")
    if declared in AUTH_VALUES:
        return []
    out = []
    for key, rule in sorted(c.labels.items()):
        if not (key.startswith(ROUTER) and key.endswith(".rule")):
            continue
        router = key[len(ROUTER):-len(".rule")]
        used = c.labels.get(f"{ROUTER}{router}.middlewares", "")
        names = {m.strip().split("@", 1)[0] for m in used.split(",") if m.strip()}
        if names & guards or any("authelia" in n for n in names):
            continue
        why = (f" (its {AUTH_LABEL} label {declared!r} is neither "
               f"{' nor '.join(AUTH_VALUES)})" if declared else "")
        out.append(_finding(
            "no_sso", "medium", host, c.name,
            f"web service routed by traefik ({rule}) without authelia in front{why}",
            "use the sso-web-app pattern (authelia forward-auth), or declare `auth: own` "
            "(it signs users in itself) or `auth: public` in its stack file",
            router=router, rule=rule))
    return out


def secret_findings(host: str, files: list[SecretFileLook]) -> list[AuditFinding]:
    """A secret file anyone else on the host may read (or change); a secrets
    directory others may enter."""
    out = []
    for f in files:
        mode = f"{f.mode:04o}"
        if f.kind == "file" and f.mode & 0o066:
            severity: Severity = "high" if f.mode & 0o006 else "medium"
            who = "everyone" if f.mode & 0o006 else "its group"
            owner = posixpath.basename(f.path).removesuffix(".env")  # <container>.env
            out.append(_finding("secret_readable", severity, host, owner,
                                f"secret file {f.path} is mode {mode}: {who} may read it",
                                f"chmod 600 {f.path}", mode=mode, path=f.path))
        elif f.kind == "directory" and f.mode & 0o007:
            out.append(_finding("secret_dir_open", "low", host, f.path,
                                f"secrets directory {f.path} is mode {mode}: others may "
                                "list it", f"chmod 700 {f.path}", mode=mode))
    return out


def privileged_findings(host: str, c: ContainerObs) -> list[AuditFinding]:
    if not c.privileged:
        return []
    return [_finding("privileged", "high", host, c.name,
                     "runs privileged: every capability and device of the host",
                     "drop --privileged; pass only the devices (`devices:`) or "
                     "capabilities it needs")]


def host_findings(host: str, containers: list[ContainerObs],
                  secret_files: list[SecretFileLook]) -> list[AuditFinding]:
    """Every finding on one host: running containers (what runs) and its secrets."""
    running = [c for c in containers if c.running]
    guards = forward_auth(running)
    out = [f for c in running for f in (*port_findings(host, c),
                                        *auth_findings(host, c, guards),
                                        *privileged_findings(host, c))]
    return out + secret_findings(host, secret_files)


def ordered(found: list[AuditFinding]) -> list[AuditFinding]:
    return sorted(found, key=lambda f: (SEVERITY_ORDER[f.severity], f.host, f.subject, f.code))


def audit(inventory: Inventory) -> AuditReport:
    """Audit every host of the inventory (read only)."""
    from homelab_ops.collection.facts.look import SecretFiles
    from homelab_ops.collection.facts.podman import PodmanContainers
    from homelab_ops.collection.facts.quadlet import QuadletHost
    from homelab_ops.collection.lib.hosts import host_target
    from homelab_ops.diagnose.hosts import reader

    with reader(inventory) as hosts:
        where = hosts.read(QuadletHost)
        dirs = {h: host_target(h, hosts.host(h).data.dict(), facts).secrets_dir
                for h, facts in where.items()}
        live = hosts.read(PodmanContainers, lambda h: {"run_healthchecks": False})
        secrets = hosts.read(SecretFiles, lambda h: {"directory": dirs.get(h.name, "/nonexistent")})
        failures = hosts.failures
    report = AuditReport(failures=failures)
    for host in sorted(set(live) & set(secrets) & set(dirs)):
        containers = [ContainerObs.model_validate(c) for c in live[host]]
        files = [SecretFileLook.model_validate(f) for f in secrets[host]]
        report.hosts.append(host)
        report.containers += sum(c.running for c in containers)
        report.secret_files += sum(f.kind == "file" for f in files)
        report.findings += host_findings(host, containers, files)
    report.findings = ordered(report.findings)
    return report
