"""garnet_hls.models.build."""
