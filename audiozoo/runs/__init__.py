"""A run as an artifact: its folder and files, its checkpoint, its evaluation, and loading it to sample.

Below training: export, the report, the ``latent`` representation and the CLI read runs from here
without importing :mod:`audiozoo.train`.
"""
