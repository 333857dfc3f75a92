"""`pip install .` (not only editable) gives a working package: firmware, templates and the presets' configs
ship inside it."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_firmware_and_templates(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                        str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("garnet_hls-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in sorted(p.name for p in (ROOT / "firmware").iterdir() if p.suffix == ".h"):
        assert f"garnet_hls/firmware/{f}" in names
    assert "garnet_hls/templates/garnet_batch.cpp" in names
    for f in sorted(p.name for p in (ROOT / "configs").glob("*.yml")):
        assert f"garnet_hls/configs/{f}" in names

    # installed (not editable), the package finds its own copies, not the checkout's
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                        str(wheel)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    code = ("import garnet_hls.resources as r; print(r.firmware_dir()); print(r.templates_dir()); "
            "import garnet_hls; print(garnet_hls.__file__); "
            "from garnet_hls.models.presets import PRESETS, config_path; print(*[config_path(n) for n in PRESETS])")
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    fw, tpl, init, *configs = out.stdout.split()
    assert Path(fw) == target / "garnet_hls" / "firmware" and (Path(fw) / "garnet.h").is_file()
    assert Path(tpl) == target / "garnet_hls" / "templates"
    assert Path(init).parent == target / "garnet_hls"
    # the demo's config (garnet-hls demo converts with config_path(preset)) is the wheel's copy
    from garnet_hls.models.presets import PRESETS

    assert len(configs) == len(PRESETS)
    for name, cfg in zip(PRESETS, configs):
        assert Path(cfg) == target / "garnet_hls" / "configs" / f"{name}.yml" and Path(cfg).is_file()


def test_config_path_in_source_checkout():
    from garnet_hls.models.presets import PRESETS, config_path

    for name in PRESETS:
        assert config_path(name) == ROOT / "configs" / f"{name}.yml" and config_path(name).is_file()


def test_nothing_reads_outside_the_repository():
    """A fresh clone has nothing beside it: code, tests, benchmarks and build files name no path outside the
    repository (the real reports are tests/data/vivado-reports, the layer semantics docs/layers.md)."""
    beside = "sha" + "red"  # the folder beside the checkout on CI; spelt in two so this file does not match itself
    needles = ["../" + beside, "/work/" + beside]
    files = [ROOT / "Makefile", ROOT / ".ci" / "run", ROOT / "pyproject.toml", ROOT / "README.md"]
    for top in ("garnet_hls", "tests", "benchmarks", "docs", "configs", "templates", "firmware"):
        files += [p for p in (ROOT / top).rglob("*") if p.is_file() and p.suffix in (".py", ".md", ".yml", ".h",
                                                                                     ".cpp", ".sh", ".txt")]
    files = [p for p in files if p != ROOT / "tests" / "data" / "vivado-reports" / "PROVENANCE.md"]
    hits = [f"{p.relative_to(ROOT)}: {n}" for p in files for n in needles if n in p.read_text(errors="replace")]
    assert hits == []
