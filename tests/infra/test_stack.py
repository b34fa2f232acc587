"""Health and drift of every declared container (see conftest.py for how to run)."""

from __future__ import annotations

from homelab_ops.stacks.health import checks, run_check


def test_healthy(host, plan, container: str) -> None:
    """Running, healthcheck passing, ports listening, HTTP answering."""
    failed = []
    for check in checks(plan):
        if check.container == container:
            ok, seen = run_check(host, check, plan.target.env)
            if not ok:
                failed.append(f"{check.kind} {check.target}: {seen}".strip())
    assert not failed, failed


def test_no_drift(drift, container: str) -> None:
    """Image, environment, labels, ports, networks and volumes as declared."""
    assert [d.line() for d in drift if d.subject == container] == []


def test_unit_files_as_rendered(drift) -> None:
    assert [d.line() for d in drift if d.kind.startswith("unit_")] == []


def test_no_unexpected_containers(drift) -> None:
    assert [d.line() for d in drift if d.kind == "unexpected"] == []
