"""Put QKeras 0.9 back after hgq2 was installed into the same environment (run by `make install`).

hgq2 0.2.0 ships, besides ``hgq``, a top-level ``qkeras`` package (a Keras 3 compatibility layer) that pip
writes over QKeras 0.9: its ``qkeras/__init__.py`` replaces QKeras', and its package directories
``qkeras/qlayers/``, ``qkeras/quantizers/``, ``qkeras/initializers/`` shadow QKeras' ``qlayers.py`` and
``quantizers.py``. The Keras 2 front end then fails at ``import qkeras``. ``hgq`` itself never imports
``qkeras``, so this removes hgq2's directories and reinstalls QKeras 0.9 without dependencies. Idempotent.
"""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path


def main():
    spec = importlib.util.find_spec("qkeras")
    if spec is None or spec.origin is None:
        print("restore_qkeras: qkeras is not installed; nothing to do")
        return 0
    root = Path(spec.origin).parent
    shim_dirs = [root / n for n in ("qlayers", "quantizers", "initializers") if (root / n).is_dir()]
    clobbered = "HGQ2" in (root / "__init__.py").read_text(encoding="utf-8")
    if not shim_dirs and not clobbered:
        print("restore_qkeras: QKeras 0.9 is intact")
        return 0
    for d in shim_dirs:
        shutil.rmtree(d)
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps",
                           "qkeras==0.9.0"])
    print(f"restore_qkeras: removed hgq2's {[d.name for d in shim_dirs]} from {root} and reinstalled QKeras 0.9")
    return 0


if __name__ == "__main__":
    sys.exit(main())
