"""The TF-IDF index is built once and read back by later processes: the same answers,
a rebuild when the examples change or the file is damaged, and no failure where the
cache cannot be written."""

from __future__ import annotations

from pathlib import Path

import pytest

from homelab_ops.query.tfidf import Index

EXAMPLES = [("disk", "is the disk full"), ("disk", "how much space is left"),
            ("mem", "which container leaks memory"), ("mem", "memory use of jellyfin")]
QUESTIONS = ("is my disk full", "memory of jellyfin", "space left on the pool")


def _same(a: Index, b: Index) -> None:
    for q in QUESTIONS:
        assert a.scores(q) == b.scores(q)
        assert a.carried(q, "disk") == b.carried(q, "disk")


def test_a_second_process_reads_the_index_it_saved(tmp_path: Path) -> None:
    built = Index.cached(EXAMPLES, tmp_path, "ask")
    (saved,) = tmp_path.glob("tfidf-ask-*.marshal")
    read = Index.cached(EXAMPLES, tmp_path, "ask")
    _same(built, Index(EXAMPLES))
    _same(read, Index(EXAMPLES))
    assert list(tmp_path.glob("tfidf-ask-*.marshal")) == [saved]


def test_other_examples_get_their_own_index_and_replace_the_old_file(tmp_path: Path) -> None:
    Index.cached(EXAMPLES, tmp_path, "ask")
    (first,) = tmp_path.glob("tfidf-ask-*.marshal")
    more = [*EXAMPLES, ("mem", "out of memory kills")]
    _same(Index.cached(more, tmp_path, "ask"), Index(more))
    (second,) = tmp_path.glob("tfidf-ask-*.marshal")
    assert second != first


@pytest.mark.parametrize("damage", [b"", b"\x00garbage", b"\xe9" * 40])
def test_a_damaged_file_is_rebuilt(tmp_path: Path, damage: bytes) -> None:
    Index.cached(EXAMPLES, tmp_path, "ask")
    (saved,) = tmp_path.glob("tfidf-ask-*.marshal")
    saved.write_bytes(damage)
    _same(Index.cached(EXAMPLES, tmp_path, "ask"), Index(EXAMPLES))
    assert saved.read_bytes() != damage  # written again


def test_an_unwritable_cache_only_costs_the_build(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    _same(Index.cached(EXAMPLES, blocked / "cache", "ask"), Index(EXAMPLES))
    assert blocked.read_text() == "not a directory"


def test_two_indexes_in_one_directory_keep_their_own_files(tmp_path: Path) -> None:
    """ask's and recommend's indexes share the cache directory: saving one never
    removes the other's file."""
    other = [("restart", "restart the container"), ("backup", "back up my photos")]
    Index.cached(EXAMPLES, tmp_path, "ask")
    Index.cached(other, tmp_path, "recommend")
    (ask,) = tmp_path.glob("tfidf-ask-*.marshal")
    (recommend,) = tmp_path.glob("tfidf-recommend-*.marshal")
    _same(Index.cached(EXAMPLES, tmp_path, "ask"), Index(EXAMPLES))
    assert Index.cached(other, tmp_path, "recommend").scores("restart it") == \
        Index(other).scores("restart it")
    assert ask.exists() and recommend.exists()
