"""C simulation of an HLS project (what ``garnet-hls csim`` runs for the vivado and vitis backends).

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

from garnet_hls.errors import UserError
from garnet_hls.project import prepare_inputs, read_meta, require_files

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
    require_files(prj, [s.relative_to(prj) for s in sources])
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


class CSim:
    """A loaded C simulation library of a project."""

    name = "C simulation"

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
