"""Integrations with the tools users already run (Optuna, Ray Tune); each framework is an extra,
imported only by its module."""
