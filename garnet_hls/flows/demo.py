"""``garnet-hls demo`` (and ``make demo``): the main job on the built-in data, end to end.

1. generate built-in calorimeter events,
2. train the quantized paper GarNet model (``garnet_paper`` preset, demo-size training),
3. convert it with ``configs/garnet_paper.yml``,
4. build and run the C simulation,
5. compare it with the Keras model bit for bit, print the verdict and the estimated latency and resources
   (``garnet-hls estimate``).

Everything goes under ``runs/demo/`` and ``vivado_projects/demo_garnet_paper/``; a re-run replaces them.

``--keras 3`` does the same with a Keras 3 model (``garnet_hls.keras3`` graph layers, HGQ2 heads; ``--beta0``:
per-element widths trained with HGQ2's EBOPs regularisation) of the ``garnet_rtl_v32`` preset, converted by
the RTL backend (the HLS backends take Keras 2 models only) and run in da4ml's emulator; step 5 then prints
the design's exact latency and interval instead of the HLS estimate.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from garnet_hls.errors import UserError


def run_demo(args):
    from garnet_hls.flows.compare import compare, format_result
    from garnet_hls.flows.convert import convert
    from garnet_hls.backends import registry
    from garnet_hls.physics.data import generate_calo, save_npz
    from garnet_hls.estimate import estimate_project, format_estimate
    from garnet_hls.models.presets import config_path, preset
    from garnet_hls.physics.train import train

    name = args.preset
    keras3 = args.keras == 3
    kw = preset(name)
    kind = kw.pop("kind")
    V = kw["n_vertices"]
    root = Path(args.output)
    t0 = time.time()
    print(f"[1/5] built-in calorimeter data: {args.test_events} test events, V={V}", flush=True)
    test = generate_calo(args.test_events, n_vertices=V, seed=1001)
    save_npz(root / "test_events.npz", test)

    print(f"[2/5] training the quantized {name} model{' (Keras 3 / HGQ2)' if keras3 else ''}", flush=True)
    t = time.time()
    metrics = train(kind=kind, output_dir=root / name, force=True, seed=0, progress=not args.quiet,
                    n_events=args.train_events, epochs=args.epochs, demo=True, keras_version=args.keras,
                    beta0=args.beta0, **kw)  # time-boxed, not converged
    t_train = time.time() - t
    print(f"      AUC {metrics.get('auc', float('nan')):.3f}, trained in {t_train:.0f} s")

    print(f"[3/5] converting with configs/{name}.yml", flush=True)
    prj = convert(root / name / "model.keras", config_path(name), Path(args.project), force=True)
    print(f"      project: {prj}")

    impl = registry.backend_of(prj)
    hls = impl.family == "hls"
    print(f"[4/5] building and running the {'C simulation' if hls else 'RTL (da4ml emulator)'}", flush=True)
    t = time.time()
    sim = impl.simulator(prj, verbose=True)  # prints a line before the g++ build
    t_build = time.time() - t
    t = time.time()
    sim.run(test, progress=not args.quiet)
    t_sim = time.time() - t
    print(f"      {'g++ build' if hls else 'loaded in'} {t_build:.1f} s; {len(test['nvtx']) / t_sim:,.0f} events/s")

    print(f"[5/5] comparing {'C simulation' if hls else 'RTL'} and Keras, bit for bit")
    from garnet_hls.models.io import load_keras_model

    model = load_keras_model(root / name / "model.keras")
    r = compare(model, prj, test, sim=sim, progress=not args.quiet)
    print(format_result(r))
    if hls:
        print("\nlatency and resources of the firmware, estimated without vendor tools (garnet-hls estimate):")
        print(format_estimate(estimate_project(prj)), end="")
    else:
        from garnet_hls.project import read_meta

        print(f"\nthe RTL design: {impl.summary(read_meta(prj)).lstrip('; ')} (exact properties of its "
              f"schedule); resources: garnet-hls synth {prj} --tool yosys")
    print(f"demo finished in {time.time() - t0:.0f} s; plots and metrics in {root / name}")
    return 0 if r.bit_exact else 1


def add_cli(subparsers):
    p = subparsers.add_parser("demo", help="train -> convert -> csim -> compare on the built-in data",
                              description=__doc__.splitlines()[0])
    p.add_argument("--preset", default=None,
                   help="canonical model (garnet_hls.models.presets; default garnet_paper, with --keras 3 garnet_rtl_v32)")
    p.add_argument("--train-events", type=int, default=None, help="training events (default: demo size)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: demo size)")
    p.add_argument("--test-events", type=int, default=2000, help="events for C simulation and comparison")
    p.add_argument("--output", default="runs/demo", help="where the model, metrics and plots go")
    p.add_argument("--project", default=None,
                   help="project directory (default vivado_projects/demo_<preset>)")
    p.add_argument("--keras", type=int, choices=(2, 3), default=2,
                   help="3: a Keras 3 model (garnet_hls.keras3, HGQ2 heads), converted with the preset's config "
                        "(default preset then garnet_rtl_v32: the RTL backend; the HLS backends take Keras 2 only)")
    p.add_argument("--beta0", type=float, default=None, metavar="BETA",
                   help="with --keras 3: per-element trainable widths with HGQ2's EBOPs regularisation (train --beta0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_checked)


def _checked(args):
    """Refuse bad arguments before minutes of training: the demo replaces its outputs, so they must be
    directories it may replace (see garnet_hls.paths)."""
    from garnet_hls.project import META_FILE
    from garnet_hls.paths import check_output_dir, check_replaceable_dir, refuse_unsafe_replace
    from garnet_hls.models.presets import preset

    if args.preset is None:
        args.preset = "garnet_rtl_v32" if args.keras == 3 else "garnet_paper"
    if args.project is None:
        args.project = f"vivado_projects/demo_{args.preset}"
    if args.beta0 is not None and args.keras != 3:
        raise UserError("--beta0 (HGQ2's trainable widths with EBOPs regularisation) needs --keras 3")
    preset(args.preset)
    if args.keras == 3:  # before TensorFlow is imported: this process stays Keras 3
        try:
            import garnet_hls.keras3  # noqa: F401
        except ImportError as e:
            raise UserError(f"--keras 3 needs the Keras 3 front end (pip install 'garnet-hls[keras3]'): {e}") from None
    for opt in ("test_events", "train_events", "epochs"):
        value = getattr(args, opt)
        if value is not None and value < 1:
            raise UserError(f"--{opt.replace('_', '-')} must be >= 1, got {value}")
    check_replaceable_dir(args.project, True, markers=(META_FILE,), what="--project directory",
                          who="demo (which replaces its --project)")
    root = Path(args.output)
    check_output_dir(root, "--output directory")
    run_dir = root / args.preset
    if run_dir.is_dir() and any(run_dir.iterdir()):
        refuse_unsafe_replace(run_dir, markers=("metrics.json",), kind="garnet-hls training run",
                              who="demo (which replaces its training run)")
    prj = Path(args.project).resolve()
    if root.resolve() == prj or prj in root.resolve().parents:
        raise UserError(f"--output {args.output} must not be inside --project {args.project} (the project is "
                        "replaced, the model in --output is its input)")
    new = root.resolve()  # the outermost directory of --output this run creates: removed if the run fails
    while not new.parent.exists():
        new = new.parent
    new = None if new.exists() else new
    try:
        return run_demo(args)
    except BaseException:
        if new is not None:
            shutil.rmtree(new, ignore_errors=True)
        raise
