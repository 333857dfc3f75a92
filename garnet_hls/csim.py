"""C simulation of a generated project (``garnet-hls csim``).

The project's own sources (hls4ml's ``firmware/<project>.cpp`` and ``<project>_bridge.cpp``, plus our
``garnet_batch.cpp``) are compiled with g++ against the ap_types headers hls4ml ships into the project,
into a shared library under ``<project>/build/``. The library is named by a hash of the sources, so an
unchanged project is built once. Events run in batches through ``garnet_batch``.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from garnet_hls.convert import META_FILE
from garnet_hls.errors import UserError, require_dir


def read_meta(project) -> dict:
    prj = Path(project)
    require_dir(prj)
    p = prj / META_FILE
    if not p.is_file():
        raise UserError(f"{project} is not a garnet-hls project (no {META_FILE}); create it with garnet-hls convert")
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{p} is corrupt ({e}); convert the model again with garnet-hls convert --force") from None
    required = {"project_name": str, "inputs": list, "outputs": list, "traced": list, "layers": dict}
    bad = [k for k, t in required.items() if not isinstance(meta, dict) or not isinstance(meta.get(k), t)]
    if bad:
        raise UserError(f"{p} is corrupt (missing or wrong {', '.join(bad)}); convert the model again with "
                        "garnet-hls convert --force")
    return meta


FAST_DEFINE = "GARNET_HLS_FAST_CSIM"


def _cflags(fast=False):
    flags = ["-O3", "-fPIC", "-std=c++17", "-fno-gnu-unique"]
    if fast:
        flags.append(f"-D{FAST_DEFINE}")
    return flags


def build(project, verbose=False, fast=False) -> Path:
    """Compile the C simulation library (once per source state). Returns the .so path.

    By default the kernels run exactly the code that is synthesized. ``fast`` lets the GarNet and GravNet
    kernels hold their integer codes in 64-bit integers instead of ap_int: the same operations, several
    times faster in C simulation, checked bit for bit against the default by the tests.
    """
    prj = Path(project).resolve()
    meta = read_meta(prj)
    name = meta["project_name"]
    if shutil.which("g++") is None:
        raise UserError("g++ is not on PATH: install a C++ compiler (e.g. apt-get install g++) to run the C simulation")
    sources = [prj / "firmware" / f"{name}.cpp", prj / f"{name}_bridge.cpp", prj / "garnet_batch.cpp"]
    h = hashlib.sha256()
    for d in (prj / "firmware",):
        for f in sorted(d.rglob("*")):
            if f.is_file() and f.suffix in (".h", ".cpp", ".hpp") and "ap_types" not in f.parts:
                h.update(f.read_bytes())
    for f in sources:
        h.update(f.read_bytes())
    h.update(" ".join(_cflags(fast)).encode())
    out_dir = prj / "build"
    lib = out_dir / f"csim-{h.hexdigest()[:16]}.so"
    if lib.exists():
        return lib
    if verbose:
        print("building the C simulation (g++, ~10-30 s)...", flush=True)
    out_dir.mkdir(exist_ok=True)
    inc = ["-I", str(prj / "firmware" / "ap_types"), "-I", str(prj), "-I", str(prj / "firmware")]
    defs = [f'-DWEIGHTS_DIR="{prj / "firmware" / "weights"}"']
    # unique per build: two runs building the same project at once must not share object or temp files;
    # each renames its finished library into place atomically (both are the same bits)
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    objs = [out_dir / f"{s.stem}-{lib.stem}-{tag}.o" for s in sources]

    def compile_one(pair):
        src, obj = pair
        cmd = ["g++", *_cflags(fast), *inc, *defs, "-c", str(src), "-o", str(obj)]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=prj)
        return src, r

    tmp = out_dir / f"{lib.name}.{tag}.tmp"
    t0 = time.time()
    try:
        with ThreadPoolExecutor(max_workers=min(len(sources), os.cpu_count() or 1)) as ex:
            results = list(ex.map(compile_one, zip(sources, objs)))
        for src, r in results:
            if r.returncode != 0:
                sys.stderr.write(r.stderr[-4000:])
                raise UserError(f"g++ failed on {src.name} (see the compiler output above)")
        r = subprocess.run(["g++", *_cflags(fast), "-shared", *map(str, objs), "-o", str(tmp)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stderr[-4000:])
            raise UserError("linking the C simulation library failed (see the output above)")
        os.replace(tmp, lib)
    finally:
        for o in [*objs, tmp]:
            o.unlink(missing_ok=True)
    if verbose:
        print(f"built {lib.name} in {time.time() - t0:.1f} s")
    return lib


def prepare_inputs(meta: dict, data: dict) -> list[np.ndarray]:
    """Map an events dict (features, nvtx) onto the project's inputs, checking shapes and nvtx range."""
    from garnet_hls.layers.common import check_nvtx_np

    arrays = []
    n_events = None
    for spec in meta["inputs"]:
        layer = meta["layers"].get(spec["keras_name"], {})
        shape = spec["shape"]
        if layer.get("nvtx"):
            if "nvtx" not in data:
                raise UserError("the data has no 'nvtx' array, which the model's nvtx input needs")
            a = check_nvtx_np(data["nvtx"], layer["n_vertices"])
        else:
            key = spec["keras_name"] if spec["keras_name"] in data else "features"
            if key not in data:
                raise UserError(f"the data has no {spec['keras_name']!r} or 'features' array")
            a = np.asarray(data[key])
            if tuple(a.shape[1:]) != tuple(shape):
                raise UserError(f"input {spec['keras_name']!r} needs events of shape {tuple(shape)}, "
                                f"the data has {tuple(a.shape[1:])}")
        if n_events is not None and len(a) != n_events:
            raise UserError("the data's arrays have different numbers of events")
        n_events = len(a)
        arrays.append(np.ascontiguousarray(a.reshape(len(a), -1), dtype=np.float64))
    return arrays


class CSim:
    """A loaded C simulation library of a project."""

    def __init__(self, project, verbose=False, fast=False):
        self.project = Path(project)
        self.meta = read_meta(self.project)
        self.fast = fast
        self.lib_path = build(self.project, verbose=verbose, fast=fast)
        self.lib = ctypes.CDLL(str(self.lib_path))
        self.fn = self.lib.garnet_batch
        self.fn.restype = ctypes.c_int

    def run(self, data: dict, trace=False, progress=False, chunk=512):
        """Run every event. Returns ``(outputs, traces)``: dicts name -> array (traces empty unless asked)."""
        ins = prepare_inputs(self.meta, data)
        n = len(ins[0])
        outs = [np.zeros((n, int(np.prod(o["shape"]))), dtype=np.float64) for o in self.meta["outputs"]]
        traced = self.meta["traced"]
        total = max(1, sum(t["size"] for t in traced))
        tr = np.zeros((n, total), dtype=np.float64) if trace else None
        ptr = ctypes.POINTER(ctypes.c_double)

        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=n, unit="ev", desc="C simulation", leave=False)
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            args = [ctypes.c_int(e - s)]
            args += [a[s:e].ctypes.data_as(ptr) for a in ins]
            args += [o[s:e].ctypes.data_as(ptr) for o in outs]
            args.append(tr[s:e].ctypes.data_as(ptr) if trace else ptr())
            self.fn(*args)
            if bar:
                bar.update(e - s)
        if bar:
            bar.close()
        outputs = {o["keras_name"]: arr.reshape([n] + o["shape"]) for o, arr in zip(self.meta["outputs"], outs)}
        traces = {}
        if trace:
            off = 0
            for t in traced:
                traces[t["name"]] = tr[:, off:off + t["size"]]
                off += t["size"]
        return outputs, traces


def load_events(path) -> dict:
    from garnet_hls.data import load_npz

    return load_npz(path)


def add_cli(subparsers):
    p = subparsers.add_parser("csim", help="build and run the C simulation of a project",
                              description="Build (g++) and run a project's C simulation on events from an .npz file.")
    p.add_argument("project", help="project directory written by garnet-hls convert")
    p.add_argument("--data", required=True, help="events (.npz, garnet-hls data schema)")
    p.add_argument("-o", "--output", help="write the outputs to this .npz")
    p.add_argument("-n", "--events", type=int, help="only the first N events")
    p.add_argument("--fast", action="store_true",
                   help="64-bit integer containers instead of ap_int in our kernels (same results, checked by "
                        "the tests; the default runs exactly the synthesized code)")
    p.add_argument("--verilator", action="store_true",
                   help="RTL projects: run the generated Verilog in Verilator instead of da4ml's emulator")
    p.set_defaults(func=run_csim)


def select_events(data: dict, n_events, path) -> dict:
    """The first ``n_events`` events of ``data`` (all when None); refuses an empty data set."""
    total = len(data["nvtx"])
    if n_events is not None:
        if isinstance(n_events, bool) or n_events < 1:
            raise UserError(f"--events must be >= 1, got {n_events}")
        data = {k: (v[:n_events] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == total else v)
                for k, v in data.items()}
    if total == 0:
        raise UserError(f"{path} holds no events")
    return data


def run_csim(args):
    from garnet_hls.paths import check_output_file, write_output

    read_meta(args.project)  # the project first: its problems are the likelier ones
    if args.output:
        check_output_file(args.output, "output")
    data = select_events(load_events(args.data), args.events, args.data)
    t0 = time.time()
    if read_meta(args.project).get("backend") == "RTL":
        from garnet_hls.rtl.sim import RTLSim

        sim = RTLSim(args.project, verbose=False, verilator=args.verilator)
    else:
        sim = CSim(args.project, verbose=True, fast=args.fast)
    t1 = time.time()
    outputs, _ = sim.run(data, progress=True)
    t2 = time.time()
    n = len(next(iter(outputs.values())))
    print(f"C simulation: {n} events in {t2 - t1:.2f} s ({n / max(t2 - t1, 1e-9):,.0f} events/s; build {t1 - t0:.1f} s)")
    if args.output:
        write_output(args.output, lambda f: np.savez(f, **outputs), "output", binary=True)
        print(f"wrote {args.output}: {', '.join(f'{k} {v.shape}' for k, v in outputs.items())}")
    return 0
