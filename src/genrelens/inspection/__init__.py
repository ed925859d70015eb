"""Model inspection: how a model behaves across a whole dataset (global explanations).

* :mod:`~genrelens.inspection.ale` — accumulated local effects (1-D and 2-D, bootstrap bands)
  of any model reached through an ``evaluate_at`` callable; :func:`~genrelens.inspection.ale.ale`
  for tables.
* :mod:`~genrelens.inspection.descriptors` — interpretable audio descriptors (band energies,
  loudness, spectral tilt, harmonic/percussive balance, tempo) measured on log-mel segments and
  applied as edits, and their ALE through the perturbation engine.
* :mod:`~genrelens.inspection.aggregate` — per-genre aggregates of local explanations and the
  mapping from component scores to descriptors.
* :mod:`~genrelens.inspection.pipeline` — ``genrelens global RUN``.
* :mod:`~genrelens.inspection.result` — its result (``GlobalResult``), writer and reader.
* :mod:`~genrelens.inspection.tabular` — ``genrelens tabular train``: a gradient-boosting baseline
  on GTZAN's feature tables with ALE curves.
* :mod:`~genrelens.inspection.segments` — the held-out segments of a run (shared with
  :mod:`genrelens.evaluate.xai`).

Submodules are imported on demand.
"""
