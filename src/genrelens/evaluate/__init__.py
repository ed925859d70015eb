"""Evaluation: classification metrics of trained models and quality measures of explanations.

Submodules are imported on demand (``from genrelens.evaluate.classification import ...``).
"""
