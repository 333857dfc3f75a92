"""garnet_hls.flows.synth with stand-in vivado_hls / vitis_hls / vitis-run executables on PATH."""

import argparse
import json
import os
import sys
from pathlib import Path

import pytest

from garnet_hls.errors import ToolNotFoundError, UserError
from garnet_hls.flows.synth import add_cli
from garnet_hls.toolchain.hls_build import SynthOptions, plan_build, synth

SHARED = Path(__file__).resolve().parent / "data" / "vivado-reports"
DENSE = SHARED / "fastmachinelearning-hls4ml-test_report-vivado2020_1-dense16x5"

# A stand-in for the HLS tools: records how it was called, prints log lines with the markers of
# hls4ml's build_prj.tcl for the steps it was asked to run, optionally "produces" reports by copying
# real ones, and exits with the code it was built with.
STUB = r'''#!{python}
import json, os, re, shutil, sys
argv = sys.argv[1:]
opts = {{}}
words = " ".join(argv)
if os.path.exists("build_opt.tcl") and "reset=" not in words:
    words = open("build_opt.tcl").read()
    for key, val in re.findall(r"^\s*(\w+)\s+(\d)\s*$", words, re.M):
        opts[key] = val == "1"
else:
    for key, val in re.findall(r"(\w+)=(\w+)", words):
        opts[key] = val == "True"
with open(os.environ["GARNET_TEST_RECORD"], "w") as f:
    json.dump({{
        "argv0": sys.argv[0], "argv": argv, "cwd": os.getcwd(), "opts": opts,
        "build_opt": open("build_opt.tcl").read() if os.path.exists("build_opt.tcl") else None,
        "marker": os.environ.get("GARNET_TEST_MARKER"),
    }}, f)
print("****** {banner}")
print("INFO: [HLS 200-10] Opening project 'myproject_prj'.")
if opts.get("csim"):
    print("***** C SIMULATION *****")
    print("INFO: [SIM 211-2] *************** CSIM start ***************")
    print("INFO: [SIM 211-1] CSim done with 0 errors.")
    print("***** C SIMULATION COMPLETED IN 0h0m13s *****")
if opts.get("synth"):
    print("***** C/RTL SYNTHESIS *****")
    print("INFO: [HLS 200-111] Finished generating all RTL models")
    src = os.environ.get("GARNET_TEST_REPORTS")
    if src:
        dst = os.path.join("myproject_prj", "solution1", "syn", "report")
        os.makedirs(dst, exist_ok=True)
        for name in ("myproject_csynth.xml", "myproject_csynth.rpt"):
            shutil.copy(os.path.join(src, name), dst)
    print("***** C/RTL SYNTHESIS COMPLETED IN 0h1m2s *****")
if opts.get("cosim"):
    print("***** C/RTL SIMULATION *****")
    print("INFO: [COSIM 212-47] Using XSIM for RTL simulation.")
if opts.get("export"):
    print("***** EXPORT IP *****")
if opts.get("vsynth"):
    print("***** VIVADO SYNTHESIS *****")
sys.stdout.flush()
print("ERROR: [stub] failing on purpose", file=sys.stderr) if {code} else None
sys.exit({code})
'''


def _tool(directory: Path, name: str, code: int = 0, banner: str = "Vivado(TM) HLS - High-Level Synthesis") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(STUB.format(python=sys.executable, code=code, banner=banner))
    path.chmod(0o755)
    return path


def _project(tmp_path: Path, backend: str = "Vivado", vitis_option_file: bool = False) -> Path:
    prj = tmp_path / "myproject_hls"
    (prj / "firmware").mkdir(parents=True)
    (prj / "hls4ml_config.yml").write_text(
        f"Backend: {backend}\nProjectName: myproject\nKerasModel: !keras_model '{prj}/keras_model.keras'\nOutputDir: {prj}\n"
    )
    tcl = "source [file join $tcldir build_opt.tcl]\n" if vitis_option_file else "foreach arg $::argv {}\n"
    (prj / "build_prj.tcl").write_text("# stand-in build script\n" + tcl)
    (prj / "project.tcl").write_text('set project_name "myproject"\n')
    return prj


def _listing(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): (p.read_bytes() if p.is_file() else b"<dir>") for p in sorted(directory.rglob("*"))}


def _cli(argv):
    parser = argparse.ArgumentParser(prog="garnet-hls")
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """tmp_path/bin first on PATH, and a file the stand-in writes its record to."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    record = tmp_path / "record.json"
    monkeypatch.setenv("GARNET_TEST_RECORD", str(record))
    for var in ("GARNET_HLS_VIVADO_HLS", "GARNET_HLS_VITIS_HLS", "GARNET_HLS_VITIS_RUN", "GARNET_TEST_REPORTS"):
        monkeypatch.delenv(var, raising=False)
    return bindir, record


def _args(flags):
    names = ("reset", "csim", "synth", "cosim", "validation", "export", "vsynth", "fifo_opt")
    on = {"synth"} | {f.lstrip("-") for f in flags}
    return " ".join(f"{n}={n in on}" for n in names)


@pytest.mark.parametrize(
    "flags",
    [[], ["--csim"], ["--cosim"], ["--export"], ["--csim", "--cosim"], ["--csim", "--cosim", "--export"], ["--vsynth"],
     ["--csim", "--cosim", "--export", "--vsynth"]],
)
def test_vivado_command_line(env, tmp_path, capsys, flags):
    bindir, record = env
    tool = _tool(bindir, "vivado_hls")
    _tool(bindir, "vivado")  # --vsynth needs vivado on PATH (build_prj.tcl calls it)
    prj = _project(tmp_path)
    assert _cli(["synth", str(prj), *flags]) == 0
    rec = json.loads(record.read_text())
    assert rec["argv0"] == str(tool)
    assert rec["argv"] == ["-f", "build_prj.tcl", _args(flags)]
    assert Path(rec["cwd"]).resolve() == prj.resolve()
    assert rec["opts"]["synth"] is True and rec["opts"]["fifo_opt"] is False
    for f in ("csim", "cosim", "export", "vsynth"):
        assert rec["opts"][f] is (f"--{f}" in flags)
    assert rec["build_opt"] is None  # Vivado projects take their options from the argument


def test_exact_argument_string(env, tmp_path):
    bindir, record = env
    _tool(bindir, "vivado_hls")
    prj = _project(tmp_path)
    assert synth(prj, SynthOptions(csim=True, cosim=True)) == 0
    rec = json.loads(record.read_text())
    assert rec["argv"][2] == "reset=False csim=True synth=True cosim=True validation=False export=False vsynth=False fifo_opt=False"


def test_log_file_streaming_and_steps(env, tmp_path, capsys, monkeypatch):
    bindir, record = env
    _tool(bindir, "vivado_hls")
    monkeypatch.setenv("GARNET_TEST_MARKER", "passed-through")
    prj = _project(tmp_path)
    assert _cli(["synth", str(prj), "--csim", "--cosim"]) == 0
    assert json.loads(record.read_text())["marker"] == "passed-through"  # the environment reaches the tool
    log = (prj / "synth.log").read_text()
    lines = log.splitlines()
    assert lines[0].startswith("# garnet-hls synth: ") and lines[0].endswith(f'build_prj.tcl {_args(["--csim", "--cosim"])}')
    assert lines[1] == f"# cwd: {prj}"
    assert lines[2:-1] == [
        "****** Vivado(TM) HLS - High-Level Synthesis",
        "INFO: [HLS 200-10] Opening project 'myproject_prj'.",
        "***** C SIMULATION *****",
        "INFO: [SIM 211-2] *************** CSIM start ***************",
        "INFO: [SIM 211-1] CSim done with 0 errors.",
        "***** C SIMULATION COMPLETED IN 0h0m13s *****",
        "***** C/RTL SYNTHESIS *****",
        "INFO: [HLS 200-111] Finished generating all RTL models",
        "***** C/RTL SYNTHESIS COMPLETED IN 0h1m2s *****",
        "***** C/RTL SIMULATION *****",
        "INFO: [COSIM 212-47] Using XSIM for RTL simulation.",
    ]
    assert lines[-1] == "# exit code 0"
    out = capsys.readouterr().out
    assert "==> garnet-hls synth: step 1/3 C simulation" in out
    assert "==> garnet-hls synth: step 2/3 C synthesis" in out
    assert "==> garnet-hls synth: step 3/3 C/RTL co-simulation" in out
    assert "[setup] INFO: [HLS 200-10] Opening project 'myproject_prj'." in out
    assert "[csim] INFO: [SIM 211-1] CSim done with 0 errors." in out
    assert "[synth] INFO: [HLS 200-111] Finished generating all RTL models" in out
    assert "[cosim] INFO: [COSIM 212-47] Using XSIM for RTL simulation." in out
    assert "==> garnet-hls synth: c simulation finished in 0h0m13s" in out
    assert out.index("step 1/3") < out.index("[csim] INFO: [SIM 211-1]") < out.index("step 2/3")


def test_exit_code_is_propagated(env, tmp_path, capsys):
    bindir, record = env
    _tool(bindir, "vivado_hls", code=1)
    prj = _project(tmp_path)
    assert _cli(["synth", str(prj)]) == 1
    log = (prj / "synth.log").read_text()
    assert "ERROR: [stub] failing on purpose" in log and log.rstrip().endswith("# exit code 1")
    assert "FAILED (exit code 1)" in capsys.readouterr().out


def test_report_table_printed_after_the_run(env, tmp_path, capsys, monkeypatch):
    bindir, _ = env
    _tool(bindir, "vivado_hls")
    monkeypatch.setenv("GARNET_TEST_REPORTS", str(DENSE))
    prj = _project(tmp_path)
    assert _cli(["synth", str(prj)]) == 0
    out = capsys.readouterr().out
    assert out.index("C/RTL SYNTHESIS COMPLETED") < out.index("C synthesis (Vivado HLS 2020.1")
    assert "latency best" in out and "10 cycles" in out and "33.2%" in out


def test_vitis_option_file_with_vitis_run(env, tmp_path):
    bindir, record = env
    run = _tool(bindir, "vitis-run", banner="Vitis HLS")
    _tool(bindir, "vitis_hls", banner="Vitis HLS")
    prj = _project(tmp_path, backend="Vitis", vitis_option_file=True)
    assert _cli(["synth", str(prj), "--csim", "--export"]) == 0
    rec = json.loads(record.read_text())
    assert rec["argv0"] == str(run)
    assert rec["argv"] == ["--mode", "hls", "--tcl", "build_prj.tcl"]
    assert rec["opts"] == {
        "reset": False, "csim": True, "synth": True, "cosim": False,
        "validation": False, "export": True, "vsynth": False, "fifo_opt": False,
    }
    assert "array set opt {" in rec["build_opt"]  # written before the tool started
    assert (prj / "build_opt.tcl").read_text() == rec["build_opt"]


def test_vitis_option_file_falls_back_to_vitis_hls(env, tmp_path):
    bindir, record = env
    hls = _tool(bindir, "vitis_hls", banner="Vitis HLS")
    prj = _project(tmp_path, backend="Vitis", vitis_option_file=True)
    assert _cli(["synth", str(prj), "--cosim"]) == 0
    rec = json.loads(record.read_text())
    assert (rec["argv0"], rec["argv"]) == (str(hls), ["-f", "build_prj.tcl"])
    assert rec["opts"]["cosim"] is True and rec["opts"]["csim"] is False


def test_vitis_argument_convention(env, tmp_path):
    bindir, record = env
    hls = _tool(bindir, "vitis_hls", banner="Vitis HLS")
    _tool(bindir, "vitis-run")  # must not be used: this build_prj.tcl reads its argument
    prj = _project(tmp_path, backend="Vitis", vitis_option_file=False)
    assert _cli(["synth", str(prj), "--csim", "--cosim", "--export"]) == 0
    rec = json.loads(record.read_text())
    assert (rec["argv0"], rec["argv"]) == (str(hls), ["-f", "build_prj.tcl", _args(["--csim", "--cosim", "--export"])])
    assert not (prj / "build_opt.tcl").exists()


def test_env_override_of_the_executable(env, tmp_path, monkeypatch):
    _, record = env
    custom = _tool(tmp_path / "opt" / "xilinx", "my_vivado_hls_wrapper")
    monkeypatch.setenv("GARNET_HLS_VIVADO_HLS", str(custom))
    prj = _project(tmp_path)
    assert synth(prj, SynthOptions()) == 0
    rec = json.loads(record.read_text())
    assert rec["argv0"] == str(custom) and rec["argv"][:2] == ["-f", "build_prj.tcl"]

    monkeypatch.setenv("GARNET_HLS_VIVADO_HLS", str(tmp_path / "missing"))
    with pytest.raises(ToolNotFoundError) as exc:
        plan_build(prj, SynthOptions())
    assert "GARNET_HLS_VIVADO_HLS" in str(exc.value) and exc.value.exit_code == 2


@pytest.mark.parametrize(
    "backend,option_file,expected",
    [("Vivado", False, ["vivado_hls", "Vivado/2020.1/settings64.sh", "GARNET_HLS_VIVADO_HLS"]),
     ("Vitis", True, ["vitis-run", "vitis_hls", "Vitis/", "settings64.sh", "GARNET_HLS_VITIS_RUN"]),
     ("Vitis", False, ["vitis_hls", "settings64.sh", "GARNET_HLS_VITIS_HLS"])],
)
def test_absent_tool_changes_nothing(tmp_path, monkeypatch, backend, option_file, expected):
    empty = tmp_path / "emptybin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for var in ("GARNET_HLS_VIVADO_HLS", "GARNET_HLS_VITIS_HLS", "GARNET_HLS_VITIS_RUN"):
        monkeypatch.delenv(var, raising=False)
    prj = _project(tmp_path, backend=backend, vitis_option_file=option_file)
    before = _listing(prj)
    with pytest.raises(ToolNotFoundError) as exc:
        _cli(["synth", str(prj), "--csim", "--cosim"])
    assert exc.value.exit_code == 2
    msg = str(exc.value)
    assert "\n" not in msg
    for word in expected:
        assert word in msg
    assert _listing(prj) == before  # no synth.log, no build_opt.tcl, no directories


def test_vsynth_without_vivado_changes_nothing(env, tmp_path, monkeypatch):
    bindir, record = env
    _tool(bindir, "vivado_hls")
    empty = tmp_path / "emptybin"
    empty.mkdir()
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{empty}")  # vivado_hls but no vivado
    prj = _project(tmp_path)
    before = _listing(prj)
    with pytest.raises(ToolNotFoundError) as exc:
        _cli(["synth", str(prj), "--vsynth"])
    assert exc.value.exit_code == 2 and "\n" not in str(exc.value) and "vivado not found" in str(exc.value)
    assert _listing(prj) == before and not record.exists()


def test_missing_project_or_build_script(env, tmp_path):
    with pytest.raises(UserError) as exc:
        _cli(["synth", str(tmp_path / "nowhere")])
    assert "does not exist" in str(exc.value) and "\n" not in str(exc.value)
    assert not isinstance(exc.value, ToolNotFoundError)

    prj = _project(tmp_path)
    (prj / "build_prj.tcl").unlink()
    before = _listing(prj)
    with pytest.raises(UserError) as exc:
        _cli(["synth", str(prj)])
    assert "build_prj.tcl" in str(exc.value) and "\n" not in str(exc.value)
    assert _listing(prj) == before


def test_backend_from_project_tcl_and_unsupported_backend(env, tmp_path):
    bindir, record = env
    _tool(bindir, "vivado_hls")
    prj = _project(tmp_path)
    (prj / "hls4ml_config.yml").unlink()
    (prj / "project.tcl").write_text('set project_name "myproject"\nset backend "vivado"\n')
    assert plan_build(prj, SynthOptions()).backend == "vivado"

    (prj / "hls4ml_config.yml").write_text("Backend: oneAPI\nProjectName: myproject\n")
    with pytest.raises(UserError) as exc:
        plan_build(prj, SynthOptions())
    assert "oneAPI" in str(exc.value) and not isinstance(exc.value, ToolNotFoundError)
