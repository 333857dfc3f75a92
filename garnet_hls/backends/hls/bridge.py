"""Writes ``garnet_batch.cpp`` into a project: a C entry point that runs a whole batch of events."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_batch_bridge(prj: Path, meta: dict):
    from garnet_hls.resources import templates_dir

    tpl = (templates_dir() / "garnet_batch.cpp").read_text()
    ins = [(f"in{k}", int(np.prod(v["shape"]))) for k, v in enumerate(meta["inputs"])]
    outs = [(f"out{k}", int(np.prod(v["shape"]))) for k, v in enumerate(meta["outputs"])]
    double_params = ", ".join(f"double {n}[{s}]" for n, s in ins + outs)
    batch_params = ", ".join([f"const double *{n}" for n, _ in ins] + [f"double *{n}" for n, _ in outs])
    call_args = ", ".join([f"const_cast<double *>({n}) + (size_t)e * {s}" for n, s in ins]
                          + [f"{n} + (size_t)e * {s}" for n, s in outs])
    traced = meta["traced"]
    text = tpl.format(
        project=meta["project_name"],
        double_params=double_params,
        batch_params=batch_params,
        call_args=call_args,
        trace_names=", ".join(f'"{t["name"]}"' for t in traced) or "0",
        trace_sizes=", ".join(str(t["size"]) for t in traced) or "0",
        n_traced=len(traced),
        trace_total=max(1, sum(t["size"] for t in traced)),
    )
    (prj / "garnet_batch.cpp").write_text(text)
