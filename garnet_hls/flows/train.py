"""``garnet-hls train``: train a GarNet or GravNet model on calorimeter data.

The training, its measurements and its outputs are the library's (:mod:`garnet_hls.physics.train`); this is
its command, with ``--preset`` (:mod:`garnet_hls.models.presets`) supplying defaults for the other options.
"""

from __future__ import annotations

import argparse
import os

from garnet_hls.errors import UserError
from garnet_hls.models.presets import KINDS
from garnet_hls.physics.train import CONVERGE_SETTINGS, summary, train


def run_train(args):
    if args.beta0 is not None and (args.keras != 3 or not _quantized(args)):
        raise UserError("--beta0 (HGQ2's trainable widths with EBOPs regularisation) needs --keras 3 and a "
                        "quantized model (--quantized, or a preset)")
    if args.keras == 3:  # before TensorFlow is imported: this process stays Keras 3 (no TF_USE_LEGACY_KERAS)
        from garnet_hls._env import quiet_native_stderr

        try:
            with quiet_native_stderr():
                import garnet_hls.keras3  # noqa: F401
        except ImportError as e:
            raise UserError(f"--keras 3 needs the Keras 3 front end (pip install 'garnet-hls[keras3]'): {e}") from None
    kind, quantized, bits, model_kw, output = args.model, args.quantized, args.bits, {}, args.output
    given = getattr(args, "given", set())
    if getattr(args, "preset", None):
        from garnet_hls.models.presets import preset

        model_kw = preset(args.preset)
        preset_kind = model_kw.pop("kind")
        if "model" in given and args.model != preset_kind:
            raise UserError(f"--model {args.model} contradicts --preset {args.preset}, a {preset_kind} model")
        kind = preset_kind
        p_quantized, p_bits = model_kw.pop("quantized", False), model_kw.pop("weight_bits", 8)
        quantized = args.quantized if "quantized" in given else p_quantized
        bits = args.bits if "bits" in given else p_bits
        if output is None:
            output = os.path.join("runs", args.preset if args.vertices is None else f"{args.preset}-v{args.vertices}")
    if args.vertices is not None:
        model_kw["n_vertices"] = args.vertices
    metrics = train(kind=kind, data=args.data, n_events=args.events, epochs=args.epochs,
                    batch_size=args.batch_size, quantized=bool(quantized), weight_bits=bits,
                    output_dir=output, seed=args.seed, force=args.force, progress=not args.quiet,
                    max_epochs=args.max_epochs, patience=args.patience, learning_rate=args.learning_rate,
                    keras_version=args.keras, beta0=args.beta0, **model_kw)
    print(summary(metrics))
    return 0


def add_cli(subparsers):
    """Add the ``train`` sub-command to an argparse subparsers object."""
    cg, cr = CONVERGE_SETTINGS["garnet"], CONVERGE_SETTINGS["gravnet"]
    p = subparsers.add_parser(
        "train", help="train a GarNet/GravNet model on calorimeter data",
        description="Train a GarNet or GravNet model (electron/pion logit + energy) to convergence (early stopping "
                    "on the validation loss, learning rate halved on plateaus, best weights restored) and write "
                    "model.keras, metrics.json (with a calibrated energy-sum and a shower-shape baseline on the same "
                    "events) and plots to the output directory. Defaults: "
                    f"garnet {cg['n_events']} events, at most {cg['max_epochs']} epochs; gravnet {cr['n_events']} "
                    f"events, at most {cr['max_epochs']} epochs. --epochs N trains exactly N epochs instead.")
    p.add_argument("--model", choices=KINDS, default="garnet", action=_Given, help="model kind (default garnet)")
    p.add_argument("--preset", default=None,
                   help="train a preset's architecture (garnet_hls.models.presets, e.g. garnet_rtl_v32, gravnet_rtl_v32: "
                        "its kind, shape, quantization and V; --vertices overrides V); output default runs/<preset>")
    p.add_argument("--data", metavar="PATH.npz", help="calorimeter data set (default: generate built-in events)")
    p.add_argument("-n", "--events", type=int, default=None,
                   help=f"events to generate (default per model: garnet {cg['n_events']}, gravnet {cr['n_events']}), "
                   "or to keep from --data (default all)")
    p.add_argument("--vertices", type=int, default=None, help="hit slots V of generated events (default 128)")
    p.add_argument("--epochs", type=int, default=None,
                   help="train exactly this many epochs (cosine learning-rate decay) instead of to convergence")
    p.add_argument("--max-epochs", type=int, default=None, help="epoch cap of the convergence mode (default "
                   f"garnet {cg['max_epochs']}, gravnet {cr['max_epochs']})")
    p.add_argument("--patience", type=int, default=None, help="stop after this many epochs without a lower "
                   f"validation loss (default garnet {cg['patience']}, gravnet {cr['patience']})")
    p.add_argument("--batch-size", type=int, default=None, help="batch size (default 128)")
    p.add_argument("--learning-rate", type=float, default=None,
                   help=f"initial learning rate (default {cg['learning_rate']:g})")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quantized", dest="quantized", action=_GivenConst, const=True,
                   help="QKeras model with --bits weights (fixed point, for firmware)")
    g.add_argument("--float", dest="quantized", action=_GivenConst, const=False, help="floating-point model (default)")
    p.set_defaults(quantized=False)
    p.add_argument("--bits", type=int, default=8, action=_Given, help="weight/bias bits of the quantized model (default 8)")
    p.add_argument("-o", "--output", default=None,
                   help="output directory (default runs/<model>-float or runs/<model>-q<bits>)")
    p.add_argument("--keras", type=int, choices=(2, 3), default=2,
                   help="2: tf_keras model, QKeras quantizers (default); 3: Keras 3 model, garnet_hls.keras3 graph "
                        "layers and HGQ2 QDense heads (docs/keras3.md); convert it with --backend rtl")
    p.add_argument("--beta0", type=float, default=None, metavar="BETA",
                   help="Keras 3, quantized: train every weight width (and the heads' input widths) per element, "
                        "with HGQ2's EBOPs resource regularisation of weight BETA (HGQ2's beta0, e.g. 1e-6)")
    p.add_argument("--force", action="store_true", help="overwrite a non-empty output directory")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run_train)
    return p


def _quantized(args):
    if "quantized" in getattr(args, "given", set()) or not getattr(args, "preset", None):
        return bool(args.quantized)
    from garnet_hls.models.presets import preset

    return bool(preset(args.preset).get("quantized", False))


class _Given(argparse.Action):
    """Stores the value and notes that the option was given (``--preset`` supplies defaults for the rest)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        given = set(getattr(namespace, "given", set()))
        namespace.given = given | {self.dest}


class _GivenConst(_Given):
    def __init__(self, option_strings, dest, const=None, **kw):
        super().__init__(option_strings, dest, nargs=0, const=const, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, self.const, option_string)
