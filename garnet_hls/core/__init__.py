"""garnet_hls.core."""
