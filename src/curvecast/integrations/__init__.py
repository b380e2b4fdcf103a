"""Integrations with the tools users already run (Optuna, Ray Tune), and Ray as a backend of
``curvecast search`` (``ray_backend``); each framework is an extra, imported only by its module."""
