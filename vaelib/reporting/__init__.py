"""Reporting: glue, protocol cards, published numbers, comparisons, plots, graph drawings, drift of glued numbers.

Modules: :mod:`vaelib.reporting.report`, :mod:`vaelib.reporting.published`, :mod:`vaelib.reporting.plotting`, :mod:`vaelib.reporting.graphs`, :mod:`vaelib.reporting.comparison`, :mod:`vaelib.reporting.drift`.
"""
