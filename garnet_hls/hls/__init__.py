"""hls4ml glue: converter handlers, IR layers, templates and our C++ sources."""
