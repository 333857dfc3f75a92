"""``garnet-hls convert MODEL -c CONFIG``: a Keras model -> a project of the chosen backend.

Every backend goes through the same steps here: the config's values are checked (``garnet_hls.config``), the
backend is found by name (``garnet_hls.backends.registry``; ``Backend`` in the config or ``--backend``,
case-insensitive: ``vivado``, ``vitis``, ``rtl``) and checks what it cannot build, the model is loaded and
checked against the config, and then the one output-safety path of ``garnet_hls.paths``:

* the output directory is refused unless it does not exist, or ``--force`` is given and it is a garnet-hls
  project (or empty) that is neither the working directory (or one of its parents) nor holds an input file;
* it is claimed atomically (of two runs without ``--force`` exactly one wins);
* the backend writes the project into a temporary directory beside it, whose permissions (and those of every
  file in it, also the ones copied from an installation) follow the umask,
  ``garnet_project.json`` is written last, and the directory is renamed into place; a conversion that fails
  or is interrupted leaves nothing behind (and an existing project it was to replace untouched).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from garnet_hls import paths
from garnet_hls.backends import registry
from garnet_hls.config import load_config, validate_config
from garnet_hls.errors import UserError
from garnet_hls.models.io import load_keras_model
from garnet_hls.paths import check_replaceable_dir, claim_dir, publish_dir, release_claim
from garnet_hls.project import META_FILE, read_meta, write_meta


def default_output_dir(cfg: dict) -> Path:
    return Path(cfg.get("OutputDir") or "vivado_projects/" + cfg.get("ProjectName", "myproject"))


def convert(model_path, config_path=None, output_dir=None, backend=None, force=False, overrides=None,
            model=None) -> Path:
    """Convert a saved Keras model into a project directory of its backend. Returns the project path."""
    cfg = load_config(config_path) if config_path else {}
    if overrides:
        cfg.update({k: v for k, v in overrides.items() if v is not None})
    if backend:
        cfg["Backend"] = backend
    impl = registry.get_backend(cfg.get("Backend", registry.DEFAULT), "--backend" if backend else "Backend")
    out = Path(output_dir) if output_dir else default_output_dir(cfg)
    inputs = [p for p in (model_path, config_path) if p is not None]
    if model is None:
        validate_config(cfg)  # the config's own values first: no need to load a model to refuse them
        impl.check_config(cfg)
        # the output too, before the model is loaded (TensorFlow, seconds)
        check_replaceable_dir(out, force, markers=(META_FILE,), inputs=inputs, what="output directory")
        model = load_keras_model(model_path)
    validate_config(cfg, model)
    impl.check_config(cfg, model)
    check_replaceable_dir(out, force, markers=(META_FILE,), inputs=inputs, what="output directory")
    claimed = claim_dir(out)
    if not claimed and not force:  # another run created it since the check
        raise UserError(f"output directory {out} exists; use --force to replace it")
    tmp = paths.partial_dir(out)  # named before it exists: an interrupt at any point cleans it up
    try:
        paths.make_partial(tmp)
        meta = impl.convert(model, cfg, tmp, out, model_path=model_path, force=force)
        meta["backend"] = impl.name
        paths.give_usual_modes(tmp)  # also the files the backend copied from an installation
        write_meta(tmp, meta)  # last: a directory without it is not a project
        publish_dir(tmp, out, claimed)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        release_claim(out, claimed)
        raise
    return out


def add_cli(subparsers):
    p = subparsers.add_parser("convert", help="convert a Keras model to a project (HLS or RTL backend)",
                              description="Convert a trained Keras/QKeras model into a Vivado/Vitis HLS project "
                                          "(hls4ml with our kernels) or an RTL project (da4ml's pipelined Verilog).")
    p.add_argument("model", help="the model file (.keras or .h5)")
    p.add_argument("-c", "--config", help="hls4ml-style YAML config (configs/NAME.yml)")
    p.add_argument("-o", "--output", help="project directory (default: the config's OutputDir)")
    p.add_argument("--backend", metavar="|".join(registry.NAMES),
                   help="override the config's Backend (case-insensitive; hls = vivado)")
    p.add_argument("--part", help="override the config's Part")
    p.add_argument("--clock-period", type=float, help="override the config's ClockPeriod (ns)")
    p.add_argument("--reuse-factor", type=int, help="override HLSConfig.Model.ReuseFactor")
    p.add_argument("--force", action="store_true",
                   help="replace an existing project directory (only one garnet-hls wrote)")
    p.set_defaults(func=run_convert)


def run_convert(args):
    overrides = {"Part": args.part, "ClockPeriod": args.clock_period}
    cfg_path = args.config
    if args.backend is not None:
        registry.backend_name(args.backend, "--backend")  # a misspelt backend before anything is read
    if args.reuse_factor is not None:
        if args.reuse_factor < 1:
            raise UserError(f"--reuse-factor must be >= 1, got {args.reuse_factor}")
        base = load_config(cfg_path) if cfg_path else {}
        base.setdefault("HLSConfig", {}).setdefault("Model", {})["ReuseFactor"] = args.reuse_factor
        overrides = {**base, **{k: v for k, v in overrides.items() if v is not None}}
        cfg_path = None
    out = convert(args.model, cfg_path, args.output, backend=args.backend, force=args.force, overrides=overrides)
    meta = read_meta(out)
    impl = registry.get_backend(meta["backend"])
    exact = "bit-exact by construction" if meta["bit_exact"] else \
        f"NOT bit-exact: {', '.join(e['layer'] for e in meta.get('not_bit_exact', [])) or 'see warnings'}"
    print(f"wrote {impl.name} project {out} ({meta['project_name']}; {exact}{impl.summary(meta)})")
    return 0
