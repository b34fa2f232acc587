"""The retention planner and its policy language: btrbk semantics on examples, and
properties (hypothesis) that make it safe to run unattended."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homelab_ops.collection.lib.naming import of_volume, parse, snapshot_name
from homelab_ops.collection.lib.retention import deletions, plan
from homelab_ops.errors import InputError
from homelab_ops.models.backup import RetentionPolicy, load_backup_config, parse_preserve

NOW = datetime(2026, 11, 25, 14, 30)  # a Wednesday


def names(*stamps: str, base: str = "photos") -> list[str]:
    return [f"{base}.{s}" for s in stamps]


def kept(decisions) -> set[str]:
    return {d.name for d in decisions if d.keep}


# -- the policy language --------------------------------------------------------------
def test_preserve_parses_btrbk_syntax() -> None:
    assert parse_preserve("14d 8w 6m *y") == {"h": 0, "d": 14, "w": 8, "m": 6, "y": None}
    assert parse_preserve("") == {"h": 0, "d": 0, "w": 0, "m": 0, "y": 0}
    assert parse_preserve("48h *d") == {"h": 48, "d": None, "w": 0, "m": 0, "y": 0}


@pytest.mark.parametrize("bad", ["14x", "d14", "14d 8d", "8w 14d", "-1d", "14 d"])
def test_bad_preserve_names_file_and_field(bad: str) -> None:
    raw = {"volumes": [{"subvolume": "photos", "target_retention": {"preserve": bad}}]}
    with pytest.raises(InputError) as exc:
        load_backup_config(raw, "inventory/home.py")
    assert str(exc.value).startswith(
        "inventory/home.py: backup.volumes[0].target_retention.preserve: ")


@pytest.mark.parametrize("value", ["2d", "latest", "all", "no", "36h"])
def test_min_keep_values(value: str) -> None:
    assert RetentionPolicy(min_keep=value).min_keep == value


@pytest.mark.parametrize(("field", "value"), [
    ("min_keep", "forever"), ("preserve_day_of_week", "funday"),
    ("preserve_hour_of_day", 24)])
def test_bad_policy_fields_are_named(field: str, value: object) -> None:
    raw = {"volumes": [{"subvolume": "media", "snapshot_retention": {field: value}}]}
    with pytest.raises(InputError) as exc:
        load_backup_config(raw, "host data of nas")
    assert f"backup.volumes[0].snapshot_retention.{field}" in str(exc.value)


def test_unsafe_names_and_paths_are_refused() -> None:
    for volume in ({"subvolume": "a;rm -rf /"}, {"subvolume": "ok", "snapshot_dir": "../x"},
                   {"subvolume": "-rf"}):
        with pytest.raises(InputError):
            load_backup_config({"volumes": [volume]}, "x.py")
    with pytest.raises(InputError, match=r"backup\.target"):
        load_backup_config({"target": {"pool": "backup", "ssh": "nas"}}, "x.py")


def test_snapshot_names_round_trip() -> None:
    name = snapshot_name("photos", datetime(2026, 11, 25, 2, 0, 7), "pre-action")
    assert name == "photos.20261125T020007_pre-action"
    snap = parse(name)
    assert snap is not None and (snap.base, snap.tag) == ("photos", "pre-action")
    assert snap.ts == datetime(2026, 11, 25, 2, 0, 7)
    scheduled = snapshot_name("photos", datetime(2026, 11, 25, 2, 0, 7))
    assert scheduled == "photos.20261125T0200"  # btrbk's format, minute resolution
    assert parse(scheduled).ts == datetime(2026, 11, 25, 2, 0)
    assert parse("photos.20261125T0200_pre-action").ts == datetime(2026, 11, 25, 2, 0)
    assert parse("photos.20261325T0200") is None  # month 13
    assert parse("photos") is None


def test_two_actions_in_one_minute_get_their_own_pre_action_snapshot() -> None:
    """A pre-action snapshot is the state right before its action: a second action in
    the same minute must not find the first one's name taken and act on an older one."""
    first = snapshot_name("photos", datetime(2026, 11, 25, 2, 0, 5), "pre-action")
    second = snapshot_name("photos", datetime(2026, 11, 25, 2, 0, 50), "pre-action")
    assert first != second
    assert [s.name for s in of_volume({second, first}, "photos", "pre-action")] == [
        first, second]


# -- btrbk semantics on examples ------------------------------------------------------
def test_first_snapshot_of_each_day_is_kept_counts_inclusive() -> None:
    # two snapshots a day for 5 days; "2d": today plus the 2 days before
    snaps = [snapshot_name("photos", NOW.replace(hour=h, minute=0) - timedelta(days=d))
             for d in range(5) for h in (2, 14)]
    decisions = plan(snaps, RetentionPolicy(preserve="2d", min_keep="no"), NOW)
    assert kept(decisions) == set(names(
        "20261125T0200", "20261125T1400",  # first of today + newest
        "20261124T0200", "20261123T0200"))
    reasons = {d.name: d.reason for d in decisions}
    assert reasons["photos.20261123T0200"].startswith("daily: first of its day, 2 back")
    assert reasons["photos.20261122T0200"].startswith("outside retention")


def test_preserve_hour_of_day_moves_the_day_boundary() -> None:
    snaps = names("20261124T0300", "20261124T0700", "20261125T0300")
    at_zero = plan(snaps, RetentionPolicy(preserve="1d", min_keep="no"), NOW)
    at_six = plan(snaps, RetentionPolicy(preserve="1d", min_keep="no",
                                         preserve_hour_of_day=6), NOW)
    assert "photos.20261124T0700" not in kept(at_zero)
    # with days starting at 06:00, 03:00 on the 24th belongs to the 23rd: 07:00 is first
    assert "photos.20261124T0700" in kept(at_six)


def test_weekly_buckets_start_on_preserve_day_of_week() -> None:
    # Sat 21st, Sun 22nd, Mon 23rd; newest is today (Wed 25th)
    snaps = names("20261121T0200", "20261122T0200", "20261123T0200", "20261125T0200")
    sunday = kept(plan(snaps, RetentionPolicy(preserve="1w", min_keep="no"), NOW))
    monday = kept(plan(snaps, RetentionPolicy(preserve="1w", min_keep="no",
                                              preserve_day_of_week="monday"), NOW))
    assert sunday == set(names("20261121T0200", "20261122T0200", "20261125T0200"))
    assert monday == set(names("20261121T0200", "20261123T0200", "20261125T0200"))


def test_monthly_and_yearly_keep_firsts_forever_with_star() -> None:
    # years, like months, start on the first Sunday: 1 January counts towards the year
    # before unless it is a Sunday (2023). So 1 Jan 2020 is 2019's only monthly (kept),
    # and 15 January is the yearly one of 2020, 2021, 2022, 2024 and 2025.
    snaps = [snapshot_name("photos", datetime(2020 + y, m, d, 2, 0))
             for y in range(6) for m in (1, 6) for d in (1, 15)] + ["photos.20261125T0200"]
    decisions = plan(snaps, RetentionPolicy(preserve="*y", min_keep="no"), NOW)
    assert kept(decisions) == set(names(
        "20200101T0200", "20200115T0200", "20210115T0200", "20220115T0200",
        "20230101T0200", "20240115T0200", "20250115T0200", "20261125T0200"))


def test_monthly_is_the_first_weekly_of_the_month() -> None:
    # daily from Wed 25 March to Mon 20 April 2026; weeks start on Sunday. April begins
    # on a Wednesday inside a week that began in March, so April's first *weekly*
    # backup is Sunday 5 April (btrbk), not 1 April.
    days = [datetime(2026, 3, 25, 2, 0) + timedelta(days=i) for i in range(27)]
    snaps = [snapshot_name("photos", d) for d in days]
    now = datetime(2026, 4, 20, 12, 0)
    decisions = plan(snaps, RetentionPolicy(preserve="2m", min_keep="no"), now)
    assert kept(decisions) == set(names("20260325T0200", "20260405T0200", "20260420T0200"))
    reasons = {d.name: d.reason for d in decisions}
    assert reasons["photos.20260405T0200"] == "monthly: first weekly of its month, 0 back"


def test_a_snapshot_before_the_months_first_week_counts_to_the_previous_month() -> None:
    # Issue 10 item 21, btrbk's schedule(): a month starts on its first
    # preserve_day_of_week. Wed 1 to Sat 4 April lie in the week of Sun 29 March, so
    # they count towards March, whose first weekly is Sun 1 March; April's first weekly,
    # and so its monthly, is Sun 5 April, not Wed 1 April.
    snaps = names("20260301T0200", *(f"202604{d:02}T0200" for d in range(1, 21)))
    now = datetime(2026, 4, 20, 12, 0)
    decisions = plan(snaps, RetentionPolicy(preserve="2m", min_keep="no"), now)
    assert kept(decisions) == set(names("20260301T0200", "20260405T0200", "20260420T0200"))
    reasons = {d.name: d.reason for d in decisions}
    assert reasons["photos.20260301T0200"] == "monthly: first weekly of its month, 1 back"
    # one week's snapshots always share a month, so deleting a week's first (Mon 30
    # March) never promotes a later one (Wed 1 April, protected) into April
    snaps = names("20260322T0200", "20260330T0200", "20260401T0200", "20260405T0200",
                  "20260420T0200")
    policy = RetentionPolicy(preserve="2m", min_keep="no")
    first = plan(snaps, policy, now, protect={"photos.20260401T0200"})
    assert deletions(first) == ["photos.20260330T0200"]
    again = plan(sorted(kept(first)), policy, now, protect={"photos.20260401T0200"})
    assert deletions(again) == []


def test_min_keep_window_and_modes() -> None:
    snaps = [snapshot_name("photos", NOW - timedelta(hours=6 * i)) for i in range(20)]
    assert len(kept(plan(snaps, RetentionPolicy(min_keep="all"), NOW))) == 20
    assert kept(plan(snaps, RetentionPolicy(min_keep="latest"), NOW)) == {snaps[0]}
    assert kept(plan(snaps, RetentionPolicy(min_keep="no"), NOW)) == {snaps[0]}
    in_window = kept(plan(snaps, RetentionPolicy(min_keep="1d"), NOW))
    assert in_window == {s for s in snaps if parse(s).ts.date() >= datetime(2026, 11, 24).date()}


def test_newest_parent_future_and_foreign_names_are_kept() -> None:
    snaps = names("20261101T0200", "20261102T0200", "20261103T0200", "20261201T0200")
    decisions = plan([*snaps, "photos.manual-copy"], RetentionPolicy(min_keep="no"), NOW,
                     protect={"photos.20261102T0200"})
    reasons = {d.name: d.reason for d in decisions}
    assert reasons["photos.20261201T0200"] == "future-dated"
    assert reasons["photos.20261103T0200"] == "newest snapshot"
    assert "incremental parent" in reasons["photos.20261102T0200"]
    assert reasons["photos.manual-copy"] == "not a snapshot name this tool made"
    assert deletions(decisions) == ["photos.20261101T0200"]


def test_tags_have_their_own_retention() -> None:
    snaps = [*names("20261120T0200", "20261125T0200"),
             *names("20261120T0900_pre-action", "20261125T0900_pre-action"),
             "photos.20261120T0901_manual"]
    decisions = plan(snaps, RetentionPolicy(preserve="7d", min_keep="no"), NOW,
                     tag_policies={"pre-action": RetentionPolicy(min_keep="2d")})
    assert deletions(decisions) == ["photos.20261120T0900_pre-action"]


def test_the_default_tags_keep_a_rollbacks_broken_state_two_weeks() -> None:
    """``pre-rollback`` (what a rollback replaced) outlives ``pre-action``."""
    old, recent = NOW - timedelta(days=15), NOW - timedelta(days=13)
    snaps = [snapshot_name("photos", t, tag) for t in (old, recent)
             for tag in ("pre-action", "pre-rollback")]
    snaps.append(snapshot_name("photos", NOW - timedelta(days=1), "pre-action"))
    decisions = plan(snaps, RetentionPolicy(min_keep="all"), NOW,
                     tag_policies=load_backup_config({}, "test").tags)
    assert set(deletions(decisions)) == {snapshot_name("photos", old, "pre-action"),
                                         snapshot_name("photos", recent, "pre-action"),
                                         snapshot_name("photos", old, "pre-rollback")}


# -- properties -----------------------------------------------------------------------
policies = st.builds(
    RetentionPolicy,
    preserve=st.lists(st.sampled_from(["h", "d", "w", "m", "y"]), unique=True).flatmap(
        lambda units: st.tuples(*[st.sampled_from(["0", "1", "2", "5", "14", "*"])
                                  for _ in units]).map(
            lambda counts, units=units: " ".join(
                f"{c}{u}" for u, c in sorted(zip(units, counts, strict=True),
                                             key=lambda p: "hdwmy".index(p[0]))))),
    min_keep=st.sampled_from(["no", "latest", "all", "1h", "2d", "1w", "1m"]),
    preserve_day_of_week=st.sampled_from(["monday", "sunday", "saturday"]),
    preserve_hour_of_day=st.integers(0, 23),
)
offsets = st.lists(st.integers(-3 * 24 * 60, 400 * 24 * 60), min_size=1, max_size=60,
                   unique=True)


@settings(max_examples=300, deadline=None)
@given(policy=policies, minutes=offsets, data=st.data())
def test_properties_of_the_planner(policy, minutes, data) -> None:
    snaps = [snapshot_name("media", NOW - timedelta(minutes=m)) for m in minutes]
    past = sorted(s for s in snaps if parse(s).ts <= NOW)
    parent = data.draw(st.sampled_from(past)) if past else None
    decisions = plan(snaps, policy, NOW, protect={parent} if parent else set())
    assert sorted(d.name for d in decisions) == sorted(snaps)  # every snapshot decided
    doomed = set(deletions(decisions))
    if past:
        assert past[-1] not in doomed  # never the newest
    assert parent not in doomed  # never the next incremental parent
    assert all(parse(s).ts <= NOW for s in doomed)  # never a future-dated one
    assert all(d.reason for d in decisions)
    # planning its own output again deletes nothing more
    again = plan(sorted(kept(decisions)), policy, NOW, protect={parent} if parent else set())
    assert deletions(again) == []


def btrbk_kept(snaps: list[str], policy: RetentionPolicy, now: datetime) -> set[str]:
    """What repeated btrbk runs keep, computed the way btrbk 0.32's ``schedule()``
    does (its deltas from now, then first of hour -> day -> week -> month -> year),
    written independently of the planner as the agreement oracle; plus the newest
    snapshot, which this tool never deletes."""
    dow = (policy.weekday + 1) % 7  # perl's wday: 0 is Sunday
    alive = sorted(snaps)
    while True:
        deltas = {}
        for name in alive:
            ts = parse(name).ts
            from_hod, from_eow = ts.hour - policy.preserve_hour_of_day, \
                (ts.weekday() + 1) % 7 - dow
            if from_hod < 0:
                from_hod, from_eow = from_hod + 24, from_eow - 1
            from_eow += 7 if from_eow < 0 else 0
            month, year = ts.month - 1, ts.year
            if ts.day <= from_eow:  # the month starts on its first preserve_day_of_week
                month, year = (11, year - 1) if month == 0 else (month - 1, year)
            hours = int((now.replace(minute=0) - ts.replace(minute=0)).total_seconds()
                        // 3600)
            days = (hours + from_hod) // 24
            years = now.year - year
            deltas[name] = {"h": hours, "d": days, "w": (days + from_eow) // 7,
                            "m": years * 12 + now.month - 1 - month, "y": years}
        keep = {alive[-1]}
        n = policy.min_keep
        if n == "all":
            keep |= set(alive)
        elif n not in ("latest", "no"):
            keep |= {s for s in alive if deltas[s][n[-1]] <= int(n[:-1])}
        pool = alive
        for unit in "hdwmy":
            firsts: dict[int, str] = {}
            for s in pool:  # oldest first
                firsts.setdefault(deltas[s][unit], s)
            count = policy.counts[unit]
            keep |= {s for d, s in firsts.items() if count != 0 and (count is None
                                                                     or d <= count)}
            pool = sorted(firsts.values())
        if set(alive) == keep:
            return keep
        alive = sorted(keep)


@settings(max_examples=300, deadline=None)
@given(policy=policies, span=st.sampled_from([40, 120, 800]), data=st.data())
def test_the_planner_agrees_with_btrbk(policy, span, data) -> None:
    """Issue 10 item 21: on any past snapshots the kept set is what btrbk keeps (spans
    of weeks to years, so that weeks straddling a month's start are common)."""
    minutes = data.draw(st.lists(st.integers(0, span * 24 * 60), min_size=1, max_size=60,
                                 unique=True))
    snaps = [snapshot_name("media", NOW - timedelta(minutes=m)) for m in minutes]
    assert kept(plan(snaps, policy, NOW)) == btrbk_kept(snaps, policy, NOW)
