"""Checks of the values in a conversion config (``garnet-hls convert -c CONFIG``), before anything is written.

Each key of the hls4ml-style config has one check here; a value of the wrong type, out of range or not
understood is refused with one line naming the key (``HLSConfig.LayerName.garnet.ReuseFactor must be a
positive integer, got -1``). Nothing is guessed or silently replaced: a setting that would be ignored or
produce firmware other than the user asked for is an error.
"""

from __future__ import annotations

import math
import re

from garnet_hls.core.fixed import MAX_WIDTH, split_type
from garnet_hls.errors import UserError

ROUNDING = ("RND", "RND_ZERO", "RND_MIN_INF", "RND_INF", "RND_CONV", "TRN", "TRN_ZERO")
SATURATION = ("SAT", "SAT_ZERO", "SAT_SYM", "WRAP")
STRATEGIES = ("Latency", "Resource")
PIPELINE_STYLES = ("auto", "dataflow", "pipeline")
# Xilinx part names: xc (commercial), xa (automotive), xq (defence) + device, package, grade
_PART_RE = re.compile(r"^x[acq][a-z0-9]+(-[a-z0-9]+)*$", re.I)
_C_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_C_KEYWORDS = {
    "alignas", "alignof", "and", "asm", "auto", "bool", "break", "case", "catch", "char", "class", "const",
    "constexpr", "continue", "default", "delete", "do", "double", "else", "enum", "explicit", "extern", "false",
    "float", "for", "friend", "goto", "if", "inline", "int", "long", "namespace", "new", "not", "operator", "or",
    "private", "protected", "public", "register", "return", "short", "signed", "sizeof", "static", "struct",
    "switch", "template", "this", "throw", "true", "try", "typedef", "typename", "union", "unsigned", "using",
    "virtual", "void", "volatile", "while", "main",
}


def _show(v) -> str:
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def check_positive_int(key: str, v):
    """An int >= 1 (not a bool, not 2.0, not '4')."""
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise UserError(f"{key} must be a positive integer, got {_show(v)}")
    return v


def check_bool(key: str, v):
    if not isinstance(v, bool):
        raise UserError(f"{key} must be true or false, got {_show(v)}")
    return v


def check_str(key: str, v, allow_empty=False):
    if not isinstance(v, str) or (not allow_empty and not v.strip()):
        raise UserError(f"{key} must be a non-empty string, got {_show(v)}")
    return v


def check_mapping(key: str, v, what="a mapping"):
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise UserError(f"{key} must be {what}, got {type(v).__name__} {_show(v)}")
    return v


def check_number(key: str, v, positive=True, allow_zero=False):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise UserError(f"{key} must be a finite number, got {_show(v)}")
    if positive and (v < 0 or (v == 0 and not allow_zero)):
        raise UserError(f"{key} must be {'>= 0' if allow_zero else '> 0'}, got {_show(v)}")
    return v


def parse_precision(key: str, v) -> tuple[int, int, bool]:
    """(width, integer bits, signed) of an hls4ml precision string; one-line UserError if it is not one."""
    hint = "expected e.g. fixed<16,6>, ufixed<8,0>, ap_fixed<16,6,AP_RND_CONV,AP_SAT>, int<8> or uint<4>"
    if not isinstance(v, str):
        raise UserError(f"{key} must be a precision string ({hint}), got {_show(v)}")
    p = split_type(v)
    if p is None or not p.hls4ml:
        raise UserError(f"{key} {v!r} is not a precision: {hint}")
    args = p.args
    if p.kind in ("fixed", "ufixed"):
        if len(args) < 2 or len(args) > 5:
            raise UserError(f"{key} {v!r} is not a precision: {hint}")
        try:
            width, integer = int(args[0]), int(args[1])
        except ValueError:
            raise UserError(f"{key} {v!r} is not a precision: width and integer bits must be integers") from None
        signed = p.kind == "fixed"
        modes = [a[3:] if a.startswith("AP_") else a for a in args[2:]]
        if len(modes) >= 1 and modes[0] not in ROUNDING:
            raise UserError(f"{key} {v!r}: unknown rounding mode {args[2]!r}; valid: {', '.join(ROUNDING)}")
        if len(modes) >= 2 and modes[1] not in SATURATION:
            raise UserError(f"{key} {v!r}: unknown saturation mode {args[3]!r}; valid: {', '.join(SATURATION)}")
        if len(modes) == 3 and not (modes[2].isdigit()):
            raise UserError(f"{key} {v!r}: saturation bits must be a non-negative integer")
    else:
        try:
            (width,) = map(int, args)
        except ValueError:
            raise UserError(f"{key} {v!r} is not a precision: the width must be an integer") from None
        integer, signed = width, p.kind == "int"
    if not 1 <= width <= MAX_WIDTH:
        raise UserError(f"{key} {v!r}: the width must be 1..{MAX_WIDTH} bits, got {width}")
    if abs(integer) > MAX_WIDTH:
        raise UserError(f"{key} {v!r}: the integer bits must be within -{MAX_WIDTH}..{MAX_WIDTH}, got {integer}")
    return width, integer, signed


def check_precision(key: str, v, valid_keys=None):
    """A precision string, or (for a layer) a mapping of quantization point -> precision string."""
    if isinstance(v, dict):
        if not v:
            raise UserError(f"{key} is an empty mapping; give a precision string or point: precision entries")
        for k, pv in v.items():
            if not isinstance(k, str):
                raise UserError(f"{key} has a non-string key {_show(k)}")
            if valid_keys is not None and k not in valid_keys:
                raise UserError(f"unknown key {k!r} in {key}; valid keys: {', '.join(sorted(valid_keys))}")
            parse_precision(f"{key}.{k}", pv)
        return v
    parse_precision(key, v)
    return v


def check_strategy(key: str, v):
    if not isinstance(v, str) or v.lower() not in [s.lower() for s in STRATEGIES]:
        raise UserError(f"{key} must be one of {', '.join(STRATEGIES)} (any case), got {_show(v)}")
    return v


def check_pipeline_style(key: str, v):
    if not isinstance(v, str) or v.lower() not in PIPELINE_STYLES:
        raise UserError(f"{key} must be one of {', '.join(PIPELINE_STYLES)}, got {_show(v)}")
    return v


def check_project_name(key: str, v):
    if not isinstance(v, str) or not _C_IDENT.match(v) or v in _C_KEYWORDS:
        raise UserError(f"{key} must be a C identifier (letters, digits, _; not starting with a digit; not a "
                        f"C++ keyword): it names the HLS top function; got {_show(v)}")
    return v


def check_part(key: str, v):
    if not isinstance(v, str) or not _PART_RE.match(v.strip()):
        raise UserError(f"{key} must be a Xilinx part name such as xcku115-flvb2104-2-i, got {_show(v)}")
    return v


def check_clock_uncertainty(key: str, v, clock_period=None):
    """ns as a number, or a percentage of the clock period as a string 'N%' (hls4ml's default '12.5%')."""
    if isinstance(v, str):
        s = v.strip()
        try:
            pct = float(s[:-1]) if s.endswith("%") else None
            ns = None if s.endswith("%") else float(s)
        except ValueError:
            raise UserError(f"{key} must be a time in ns or a percentage like '12.5%', got {_show(v)}") from None
        if pct is not None:
            if not (math.isfinite(pct) and 0 <= pct < 100):
                raise UserError(f"{key} must be a percentage in [0, 100), got {_show(v)}")
            return v
        v_ns = ns
    else:
        v_ns = v
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise UserError(f"{key} must be a time in ns or a percentage like '12.5%', got {_show(v)}")
    if not (math.isfinite(v_ns) and v_ns >= 0):
        raise UserError(f"{key} must be a non-negative time in ns, got {_show(v)}")
    if clock_period is not None and v_ns >= clock_period:
        raise UserError(f"{key} ({v_ns} ns) must be smaller than the ClockPeriod ({clock_period} ns)")
    return v


def check_version(key: str, v):
    if isinstance(v, bool) or not isinstance(v, (str, int, float)) or (isinstance(v, float) and not math.isfinite(v)):
        raise UserError(f"{key} must be a version string such as '1.0.0', got {_show(v)}")
    return v


def check_output_dir_value(key: str, v):
    return check_str(key, v)


TOP_CHECKS = {
    "OutputDir": check_output_dir_value,
    "ProjectName": check_project_name,
    "Part": check_part,
    "ClockPeriod": check_number,
    "Version": check_version,
}
MULTIPLIERS = ("dsp", "packed", "lut", "auto")


def check_multipliers(key: str, v):
    """How the rtl backend builds variable x variable products (docs/rtl.md#multipliers)."""
    if not isinstance(v, str) or v.lower() not in MULTIPLIERS:
        raise UserError(f"{key} must be one of {', '.join(MULTIPLIERS)}, got {_show(v)}")
    return v.lower()


def check_dsp_budget(key: str, v):
    """The DSP48E2 slices Multipliers: auto may use: a whole number >= 0."""
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise UserError(f"{key} must be a whole number of DSP slices >= 0, got {_show(v)}")
    return v


def check_model_precision(key: str, v):
    """The model-wide default: one precision string."""
    parse_precision(key, v)
    return v


MODEL_CHECKS = {
    "Precision": check_model_precision,
    "ReuseFactor": check_positive_int,
    "Strategy": check_strategy,
    "BramFactor": check_positive_int,
    "TraceOutput": check_bool,
    "PipelineStyle": check_pipeline_style,
    "PipelineInterval": check_positive_int,
    "Multipliers": check_multipliers,
    "DSPBudget": check_dsp_budget,
}
LAYER_CHECKS = {
    "ReuseFactor": check_positive_int,
    "Strategy": check_strategy,
    "Trace": check_bool,
    "Multipliers": check_multipliers,
}
