#!/usr/bin/env python3
"""Benchmark: start-up time of every ``garnet-hls`` command (a measurement, not a test).

Each command runs as ``python -m garnet_hls ...`` in a fresh process, ``--repeats`` times; recorded per
command: wall time (median and best), CPU time (user + system of the child, median) and peak memory (max
RSS). The commands that need no TensorFlow (``--help``, ``--version``, ``data``, ``estimate``, ``report``,
``synth``) should start in under 1 s; the commands that do (``train``, ``convert``, ...) are listed for
comparison. Real work is kept tiny so that start-up dominates:

* ``data calo -n 10``: 10 events written to an .npz;
* ``estimate PRJ``: a project converted once here from the ``garnet_paper`` preset (untrained model);
* ``report DIR``: the real Vivado HLS reports of tests/data/vivado-reports (hls4ml's Dense 16x5 run);
* ``synth PRJ`` with no HLS tool on PATH: it stops at "tool not found", which is all a start-up needs;
* ``convert --help``, ``train --help`` and a full ``convert`` of the same model (TensorFlow + hls4ml);
* ``python -c pass``: the interpreter alone, the floor under every number.

Results go to ``benchmarks/startup.md`` and ``benchmarks/startup.json`` (``--out`` to change the name),
with the load average before and after. ``--root DIR`` measures another checkout of garnet-hls (for
example an older commit, to compare), with this script's project set-up.

    python benchmarks/startup.py [--repeats 5] [--root DIR] [--out startup]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
REPORT_DIR = REPO / "tests" / "data" / "vivado-reports" / "fastmachinelearning-hls4ml-test_report-vivado2020_1-dense16x5"

NO_TF = ("--help", "--version", "data", "estimate", "report", "synth")


def _env(root: Path, path_dirs=None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root))
    for k in ("TF_USE_LEGACY_KERAS", "GARNET_HLS_VERBOSE_TF"):
        env.pop(k, None)
    if path_dirs is not None:
        env["PATH"] = os.pathsep.join(path_dirs)
    return env


def _measure(args, env, cwd, repeats, ok_codes=(0,)):
    walls, cpus, rss = [], [], 0
    for _ in range(repeats):
        with tempfile.TemporaryFile() as err:
            t0 = time.perf_counter()
            if args[:1] == ["<python>"]:
                argv = [sys.executable, *args[1:]]
            else:
                argv = [sys.executable, "-m", "garnet_hls", *args]
            p = subprocess.Popen(argv, env=env, cwd=cwd,
                                 stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(p.pid, 0)  # this child's own CPU time and peak memory
            walls.append(time.perf_counter() - t0)
            p.returncode = code = os.waitstatus_to_exitcode(status)
            err.seek(0)
            if code not in ok_codes:
                raise SystemExit(f"garnet-hls {' '.join(args)} failed ({code}):\n{err.read()[-2000:].decode()}")
        cpus.append(usage.ru_utime + usage.ru_stime)
        rss = max(rss, usage.ru_maxrss)  # KiB on Linux
    return dict(wall_median_s=round(statistics.median(walls), 3), wall_best_s=round(min(walls), 3),
                cpu_median_s=round(statistics.median(cpus), 3), max_rss_mib=round(rss / 1024, 1),
                runs=repeats)


def _setup(work: Path, root: Path) -> tuple[Path, Path]:
    """A model of the garnet_paper preset and its converted project (no C++ build)."""
    model = work / "model.keras"
    code = ("import garnet_hls, tf_keras\n"
            "from garnet_hls.models.build import build_preset_model\n"
            "tf_keras.utils.set_random_seed(0)\n"
            f"build_preset_model('garnet_paper').save({str(model)!r})\n")
    subprocess.run([sys.executable, "-c", code], env=_env(root), check=True, capture_output=True)
    prj = work / "prj"
    subprocess.run([sys.executable, "-m", "garnet_hls", "convert", str(model), "-c",
                    str(REPO / "configs" / "garnet_paper.yml"), "-o", str(prj)], env=_env(root), check=True,
                   capture_output=True)
    return model, prj


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--root", type=Path, default=REPO, help="the garnet-hls checkout to measure (default: this one)")
    ap.add_argument("--out", default="startup", help="base name of the result files in benchmarks/")
    args = ap.parse_args(argv)
    root = args.root.resolve()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="garnet-startup-") as tmp:
        work = Path(tmp)
        model, prj = _setup(work, root)
        no_tools = [os.path.dirname(sys.executable), "/usr/bin", "/bin"]  # no vivado_hls / vitis-run here
        cases = [
            ("python -c pass", ["<python>", "-c", "pass"], {}),  # the interpreter alone, for reference
            ("--help", ["--help"], {}),
            ("--version", ["--version"], {}),
            ("data", ["data", "calo", "-n", "10", "-o", str(work / "d.npz")], {}),
            ("estimate", ["estimate", str(prj)], {}),
            ("report", ["report", str(REPORT_DIR)], {}),
            ("synth", ["synth", str(prj)], dict(path_dirs=no_tools, ok_codes=(0, 1, 2, 3, 4, 5, 127))),
            ("convert --help", ["convert", "--help"], {}),
            ("train --help", ["train", "--help"], {}),
            ("convert", ["convert", str(model), "-c", str(REPO / "configs" / "garnet_paper.yml"), "-o",
                         str(work / "prj2"), "--force"], {}),
        ]
        results = {}
        for name, cmd, opts in cases:
            env = _env(root, opts.get("path_dirs"))
            results[name] = _measure(cmd, env, work, args.repeats, opts.get("ok_codes", (0,)))
            results[name]["needs_tensorflow"] = name.split()[0] not in NO_TF + ("python",)
            print(f"{name:16s} wall {results[name]['wall_median_s']:7.3f} s (best {results[name]['wall_best_s']:.3f})"
                  f"  cpu {results[name]['cpu_median_s']:7.3f} s  rss {results[name]['max_rss_mib']:7.1f} MiB",
                  flush=True)
    load_after = os.getloadavg()
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    record = dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  commit=head, root=str(root), python=platform.python_version(), cpus=os.cpu_count(),
                  load_before=[round(x, 2) for x in load_before], load_after=[round(x, 2) for x in load_after],
                  repeats=args.repeats, commands=results)
    (HERE / f"{args.out}.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [f"# garnet-hls start-up times ({record['date']}, commit {head})", "",
             f"`python benchmarks/startup.py --repeats {args.repeats}`: each command in a fresh process, "
             f"{os.cpu_count()} CPUs, load average {record['load_before'][0]} before / {record['load_after'][0]} "
             "after (other processes on the machine inflate wall times; CPU time is the steadier number).", "",
             "| command | command needs TensorFlow | wall median [s] | wall best [s] | CPU median [s] | max RSS [MiB] |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| `{name}` | {'yes' if r['needs_tensorflow'] else 'no'} | {r['wall_median_s']:.3f} | "
                     f"{r['wall_best_s']:.3f} | {r['cpu_median_s']:.3f} | {r['max_rss_mib']:.1f} |")
    (HERE / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {HERE / (args.out + '.md')} and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
