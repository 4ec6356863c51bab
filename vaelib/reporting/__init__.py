"""Reporting: numbers into prose and figures.

- :mod:`vaelib.reporting.report`: glue, protocol cards, architecture descriptions.
- :mod:`vaelib.reporting.comparison`: paired comparisons with verdicts (every "better").
- :mod:`vaelib.reporting.student_t`: Student's t critical values for those verdicts.
- :mod:`vaelib.reporting.ratios`: rates timed in the same rounds, compared.
- :mod:`vaelib.reporting.estimates`: a headline number with both of its uncertainties.
- :mod:`vaelib.reporting.published`: the papers' numbers, with their protocols.
- :mod:`vaelib.reporting.drift`: how far a re-run may move each glued value.
- :mod:`vaelib.reporting.plotting`, :mod:`vaelib.reporting.graphs`: figures, graph drawings.
"""
