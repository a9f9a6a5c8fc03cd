"""Which files an import may read (`lox24_mcp.ops.file_access`): the bugs path checks usually ship with.

Each test builds a real directory tree in tmp_path; nothing is mocked.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lox24_mcp.ops.file_access import (
    IMPORT_DIRS_VAR,
    FileAccessError,
    open_allowed,
    parse_dirs,
    resolve_allowed,
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp/imports (allowed) with contacts.csv, and siblings that must stay out of reach."""
    (tmp_path / "imports").mkdir()
    (tmp_path / "imports" / "contacts.csv").write_text("phone\n+4915112345678\n")
    (tmp_path / "imports" / "sub").mkdir()
    (tmp_path / "imports" / "sub" / "more.csv").write_text("phone\n+4915112345679\n")
    (tmp_path / "imports-evil").mkdir()
    (tmp_path / "imports-evil" / "secret.csv").write_text("phone\n+4915100000000\n")
    (tmp_path / "secret.txt").write_text("top secret\n")
    return tmp_path


def read(raw: str, allowed: list[Path], **kwargs: int) -> bytes:
    opened = open_allowed(raw, allowed, **kwargs)
    with opened.stream:
        return opened.stream.read()


def test_a_file_inside_an_allowed_directory_is_read_by_absolute_or_relative_path(tree: Path) -> None:
    allowed = [tree / "imports"]
    assert read(str(tree / "imports" / "contacts.csv"), allowed).startswith(b"phone")
    assert read("contacts.csv", allowed).startswith(b"phone")
    assert read("sub/more.csv", allowed).endswith(b"679\n")
    opened = open_allowed("contacts.csv", allowed)
    opened.stream.close()
    assert opened.path == (tree / "imports" / "contacts.csv").resolve()
    assert opened.size == len("phone\n+4915112345678\n")


def test_nothing_is_read_when_no_directory_is_configured(tree: Path) -> None:
    with pytest.raises(FileAccessError) as caught:
        open_allowed(str(tree / "imports" / "contacts.csv"), [])
    message = str(caught.value)
    assert IMPORT_DIRS_VAR in message and "directory" in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence


def test_a_sibling_directory_sharing_the_prefix_is_not_inside(tree: Path) -> None:
    """The prefix bypass: /data/imports-evil starts with the string /data/imports but is not inside it."""
    allowed = [tree / "imports"]
    with pytest.raises(FileAccessError, match="outside the folders"):
        open_allowed(str(tree / "imports-evil" / "secret.csv"), allowed)
    # Also when the allowed directory is written with a trailing slash.
    with pytest.raises(FileAccessError, match="outside the folders"):
        open_allowed(str(tree / "imports-evil" / "secret.csv"), [Path(str(tree / "imports") + os.sep)])


def test_dot_dot_cannot_climb_out(tree: Path) -> None:
    allowed = [tree / "imports"]
    for raw in ("../secret.txt", "sub/../../secret.txt", str(tree / "imports" / ".." / "secret.txt")):
        with pytest.raises(FileAccessError, match="outside the folders"):
            open_allowed(raw, allowed)


def test_a_symlink_leaving_the_tree_is_refused_but_one_staying_inside_is_followed(tree: Path) -> None:
    allowed = [tree / "imports"]
    (tree / "imports" / "escape.csv").symlink_to(tree / "secret.txt")
    (tree / "imports" / "escape-dir").symlink_to(tree / "imports-evil", target_is_directory=True)
    (tree / "imports" / "alias.csv").symlink_to(tree / "imports" / "sub" / "more.csv")
    with pytest.raises(FileAccessError, match="outside the folders"):
        open_allowed("escape.csv", allowed)
    with pytest.raises(FileAccessError, match="outside the folders"):
        open_allowed("escape-dir/secret.csv", allowed)
    assert read("alias.csv", allowed).endswith(b"679\n")


def test_an_allowed_directory_that_is_itself_a_symlink_works(tree: Path) -> None:
    (tree / "link-to-imports").symlink_to(tree / "imports", target_is_directory=True)
    assert read(str(tree / "link-to-imports" / "contacts.csv"), [tree / "link-to-imports"]).startswith(b"phone")
    assert read(str(tree / "imports" / "contacts.csv"), [tree / "link-to-imports"]).startswith(b"phone")


def test_a_fifo_is_refused_without_blocking(tree: Path) -> None:
    fifo = tree / "imports" / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(FileAccessError, match="not a regular file"):
        open_allowed("pipe.csv", [tree / "imports"])


def test_a_device_file_is_refused(tree: Path) -> None:
    """A symlink to /dev/zero inside the tree: outside the tree once resolved, and not a regular file either."""
    (tree / "imports" / "zero.csv").symlink_to("/dev/zero")
    with pytest.raises(FileAccessError):
        open_allowed("zero.csv", [tree / "imports"])
    with pytest.raises(FileAccessError, match="not a regular file"):
        open_allowed("/dev/zero", [Path("/dev")])


def test_a_directory_is_refused(tree: Path) -> None:
    with pytest.raises(FileAccessError, match="is a folder"):
        open_allowed("sub", [tree / "imports"])


def test_files_over_the_size_limit_and_empty_files_are_refused(tree: Path) -> None:
    big = tree / "imports" / "big.csv"
    big.write_bytes(b"x" * 1001)
    with pytest.raises(FileAccessError, match="more than"):
        open_allowed("big.csv", [tree / "imports"], max_bytes=1000)
    assert len(read("big.csv", [tree / "imports"], max_bytes=1001)) == 1001
    (tree / "imports" / "empty.csv").write_bytes(b"")
    with pytest.raises(FileAccessError, match="is empty"):
        open_allowed("empty.csv", [tree / "imports"])


def test_nul_bytes_empty_and_missing_paths_are_refused(tree: Path) -> None:
    allowed = [tree / "imports"]
    with pytest.raises(FileAccessError, match="NUL"):
        open_allowed("contacts.csv\x00.txt", allowed)
    with pytest.raises(FileAccessError, match="empty"):
        open_allowed("  ", allowed)
    with pytest.raises(FileAccessError, match="There is no file"):
        open_allowed("missing.csv", allowed)


def test_outside_paths_get_the_same_answer_whether_or_not_they_exist(tree: Path) -> None:
    """No probing the rest of the disk through different messages."""
    allowed = [tree / "imports"]
    answers = []
    for raw in (str(tree / "secret.txt"), str(tree / "no-such-file.txt")):
        with pytest.raises(FileAccessError) as caught:
            resolve_allowed(raw, allowed)
        answers.append(str(caught.value).replace(raw, "<path>"))
    assert answers[0] == answers[1]


def test_several_directories_are_searched_in_order(tree: Path) -> None:
    second = tree / "second"
    second.mkdir()
    (second / "only-here.csv").write_text("phone\n+4915112345670\n")
    allowed = parse_dirs(f"{tree / 'imports'}{os.pathsep}{second}")
    assert read("only-here.csv", list(allowed)).endswith(b"670\n")
    assert read("contacts.csv", list(allowed)).endswith(b"678\n")


def test_parse_dirs_splits_on_pathsep_and_expands_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_dirs(f" ~/a {os.pathsep}{os.pathsep}/b ") == (tmp_path / "a", Path("/b"))
    assert parse_dirs(None) == ()
    assert parse_dirs("") == ()
