"""Global explanations: how a model behaves across a whole dataset.

* :mod:`~genrelens.glob.ale` — accumulated local effects (1-D and 2-D, bootstrap bands) of any
  model reached through an ``evaluate_at`` callable; :func:`~genrelens.glob.ale.ale` for tables.
* :mod:`~genrelens.glob.descriptors` — interpretable audio descriptors (band energies,
  loudness, spectral tilt, harmonic/percussive balance, tempo) measured on log-mel segments and
  applied as edits, and their ALE through the perturbation engine.
* :mod:`~genrelens.glob.aggregate` — per-genre aggregates of local explanations and the
  mapping from component scores to descriptors.
* :mod:`~genrelens.glob.pipeline` — ``genrelens global RUN``.
* :mod:`~genrelens.glob.tabular` — ``genrelens tabular train``: a gradient-boosting baseline
  on GTZAN's feature tables with ALE curves.
* :mod:`~genrelens.glob.segments` — the held-out segments of a run (shared with
  :mod:`genrelens.evaluate.xai`).

Submodules are imported on demand.
"""
