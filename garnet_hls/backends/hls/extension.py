"""hls4ml glue: our layers enter hls4ml through its Extension API, for the Vivado and Vitis backends.

``register()`` adds, once per process: a Keras-v2 handler per layer (under a namespaced class name, see
``KERAS_CLASSES``; the converter maps our layers to it), the IR layer classes, their config and
function templates, and our C++ sources from ``firmware/``.
"""

from __future__ import annotations

BACKENDS = ("Vivado", "Vitis")
FIRMWARE_FILES = ("garnet_common.h", "fixed_codes.h", "garnet.h", "gravnet.h")

_registered = False


def keras_class_map() -> dict:
    """Keras class name of our layers -> the hls4ml handler/IR class name they convert through."""
    from garnet_hls.backends.hls import garnet, gravnet

    return {**garnet.KERAS_CLASSES, **gravnet.KERAS_CLASSES}


def register():
    global _registered
    if _registered:
        return
    import hls4ml
    from hls4ml.converters.keras_v2_to_hls import (
        get_layer_handlers,
        register_keras_v2_layer_handler,
    )
    from hls4ml.model.layers import register_layer

    from garnet_hls.backends.hls import garnet, gravnet

    handlers = get_layer_handlers()
    for module, parse, layer_class in ((garnet, garnet.parse_garnet, garnet.GarNetLayer),
                                       (gravnet, gravnet.parse_gravnet, gravnet.GravNetLayer)):
        for name in module.KERAS_CLASSES.values():
            if name not in handlers:
                register_keras_v2_layer_handler(name, parse)
            register_layer(name, layer_class)
    from garnet_hls.resources import firmware_dir

    fw = firmware_dir()
    for backend_name in BACKENDS:
        backend = hls4ml.backends.get_backend(backend_name)
        backend.register_template(garnet.GarNetConfigTemplate)
        backend.register_template(garnet.GarNetFunctionTemplate)
        backend.register_template(gravnet.GravNetConfigTemplate)
        backend.register_template(gravnet.GravNetFunctionTemplate)
        for f in FIRMWARE_FILES:
            backend.register_source(fw / f)
    _registered = True
