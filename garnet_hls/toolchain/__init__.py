"""garnet_hls.toolchain."""
