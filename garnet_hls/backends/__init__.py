"""garnet_hls.backends."""
