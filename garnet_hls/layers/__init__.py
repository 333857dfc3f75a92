"""Keras layers (filled in by the layer commit)."""
GarNet = GarNetStack = GravNet = None
