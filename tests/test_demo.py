"""``garnet-hls demo`` end to end at a tiny size, what it tells the user, and the permissions of what it
writes (the user's umask, not tempfile's 0600 / 0700)."""

import os
import re
import shutil
import stat

import pytest

from garnet_hls import paths
from garnet_hls.cli import main
from garnet_hls.estimate import BANNER

BUILD_LINE = "building the C simulation (g++, ~10-30 s)..."


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_demo_tells_what_it_does_and_ends_with_the_estimate(tmp_path, capsys, umask_022, monkeypatch):
    out_dir, prj = tmp_path / "runs", tmp_path / "prj"
    rc = main(["demo", "--train-events", "300", "--epochs", "1", "--test-events", "40", "--quiet",
               "--output", str(out_dir), "--project", str(prj)])
    out = capsys.readouterr().out
    assert rc == 0, out
    lines = out.splitlines()
    i4 = lines.index("[4/5] building and running the C simulation")
    assert lines[i4 + 1] == BUILD_LINE  # said before g++ runs, not after
    assert "verdict: BIT-EXACT" in out
    # the last thing before the closing line is the estimate table, labelled as an estimate
    tail = out[out.index("verdict: BIT-EXACT"):]
    assert BANNER in tail and "total (estimate)" in tail
    assert re.search(r"^demo finished in \d+ s", lines[-1])

    # produced files and directories follow the umask (022 here): 0644 / 0755
    assert _mode(out_dir / "test_events.npz") == 0o644  # garnet_hls.physics.data.save_npz
    assert _mode(out_dir / "garnet_paper") == 0o755  # the training output (train)
    assert _mode(out_dir / "garnet_paper" / "model.keras") == 0o644
    assert _mode(prj) == 0o755  # the converted project (convert)

    # compare says so too before it builds a C simulation (g++ is a stand-in that fails at once here)
    prj2 = tmp_path / "prj2"
    shutil.copytree(prj, prj2, ignore=shutil.ignore_patterns("build"))
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "g++").write_text("#!/bin/sh\necho 'stand-in compiler: refusing' >&2\nexit 1\n")
    (fake / "g++").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    rc = main(["compare", str(out_dir / "garnet_paper" / "model.keras"), str(prj2), "--data",
               str(out_dir / "test_events.npz")])
    captured = capsys.readouterr()
    assert rc == 1 and BUILD_LINE in captured.out and "g++ failed" in captured.err


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_temporary_outputs_follow_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        d = paths.partial_dir(tmp_path / "out")
        assert not d.exists() and d.parent == tmp_path and d.name.startswith(".out.partial-")
        paths.make_partial(d)
        fd, f = paths.mkstemp(dir=tmp_path)
        os.close(fd)
        assert paths.current_umask() == mask
    finally:
        os.umask(old)
    assert _mode(d) == 0o777 & ~mask and _mode(f) == 0o666 & ~mask
