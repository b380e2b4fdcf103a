"""Conformance suites, one per extension point, parametrised over :mod:`curvecast.registry` (as
scikit-learn's ``parametrize_with_checks``): every registered implementation is checked, so a new
one is tested the moment it is registered.  Small synthetic data, few epochs: seconds, not minutes.
"""
