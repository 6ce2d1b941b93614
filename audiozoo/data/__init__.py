"""Where audio comes from (dataset plugins) and the report's preprocessing, cached as ``.npy``."""
