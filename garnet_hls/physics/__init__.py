"""garnet_hls.physics.metrics."""
