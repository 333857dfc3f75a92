"""garnet_hls.flows."""
