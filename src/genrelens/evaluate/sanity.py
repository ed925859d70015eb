"""Model-parameter randomisation test (Adebayo et al. 2018).

An explanation that is faithful to *the model* must change when the model's learned weights
are destroyed. The test explains the same inputs with the trained model and with a copy whose
weights are re-initialised, and compares the two explanations by rank correlation:

* ``"full"`` — every layer re-initialised at once;
* ``"cascading"`` — layers re-initialised one after another from the top (output) layer down,
  so the correlation can be followed as more of the model is destroyed.

Scores are compared for the class the *trained* model predicts, both as signed scores and as
absolute values (Adebayo et al. report both, since a randomised model may flip signs). The
method **fails** the test when the Spearman correlation of the absolute scores with the fully
randomised model stays at or above :data:`SANITY_THRESHOLD` (0.5) on average: at that level
the ranking is largely the same whatever the weights, i.e. it reflects the input (edges,
loudness) more than the model. The threshold is a convention of genrelens, not of the paper,
which judges visually and by SSIM; 0.5 is half-way between an unrelated ranking (0) and an
unchanged one (1). A model-independent "explainer" such as an edge detector on the input
gives 1.0 and fails.

Re-initialisation uses each layer's own ``reset_parameters()`` (PyTorch's default
initialisation; batch norms return to identity statistics), seeded: layer ``i`` of
:func:`randomizable_layers` draws from the ``i``-th seed spawned by
``numpy.random.SeedSequence(random_state)`` inside :func:`torch.random.fork_rng`, so the global
RNG is untouched, results repeat, and the draw does not coincide with a model built after
``torch.manual_seed(random_state)``. A layer's draw does not depend on which other layers are
re-initialised with it: the cascading steps are nested (a layer keeps its new weights as more
layers follow) and the last step is exactly the full randomisation. Parameters of a layer
without ``reset_parameters`` are redrawn normal with the trained tensor's standard deviation.

:func:`randomization_curve` runs the test for any explainer (a function of the model): it
yields the correlations step by step, starting with the trained model explained again (the
ceiling: 1 for a deterministic method, about 0 for a random explanation).

References
----------
Adebayo, J., Gilmer, J., Muelly, M., Goodfellow, I., Hardt, M. & Kim, B. (2018). Sanity checks
for saliency maps. NeurIPS.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from genrelens.errors import ParameterError
from genrelens.evaluate.stability import rank_correlation

__all__ = [
    "SANITY_THRESHOLD",
    "randomizable_layers",
    "randomize_model",
    "cascading_randomizations",
    "randomization_curve",
    "sanity_correlation",
    "passes_sanity",
]

#: Mean absolute-score Spearman correlation at or above which a method fails the test.
SANITY_THRESHOLD = 0.5


def randomizable_layers(model: nn.Module) -> list[str]:
    """Names of the modules that own parameters, in registration order (the top layer last)."""
    return [
        name
        for name, module in model.named_modules()
        if any(True for _ in module.parameters(recurse=False))
        or (isinstance(module, nn.modules.batchnorm._NormBase) and module.track_running_stats)
    ]


def randomize_model(
    model: nn.Module, *, layers: list[str] | None = None, random_state: int = 0
) -> nn.Module:
    """A copy of ``model`` (eval mode) with ``layers`` (default: all) re-initialised.

    Parameters
    ----------
    model : nn.Module
        Not modified.
    layers : list of str, optional
        Names from :func:`randomizable_layers`; default all of them.
    random_state : int
        Seed of the re-initialisation (one spawned seed per layer of the model, see the module
        docstring).

    Returns
    -------
    nn.Module
    """
    available = randomizable_layers(model)
    layers = available if layers is None else list(layers)
    unknown = sorted(set(layers) - set(available))
    if unknown:
        raise ParameterError(
            f"layers={unknown!r} are not layers with parameters of this model: expected names "
            f"from {available!r}."
        )
    copy_ = copy.deepcopy(model).eval()
    modules = dict(copy_.named_modules())
    seeds = np.random.SeedSequence(int(random_state)).generate_state(len(available),
                                                                     dtype=np.uint64)
    seed_of = dict(zip(available, seeds))
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        for name in layers:
            torch.manual_seed(int(seed_of[name]))
            module = modules[name]
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
                if hasattr(module, "reset_running_stats"):
                    module.reset_running_stats()
            else:
                for p in module.parameters(recurse=False):
                    p.normal_(0.0, float(p.std()) if p.numel() > 1 else 1.0)
    return copy_


def cascading_randomizations(
    model: nn.Module, *, random_state: int = 0
) -> Iterator[tuple[str, nn.Module]]:
    """Yield ``(layer name, model)`` with the top 1, 2, ... layers re-initialised (top first)."""
    order = randomizable_layers(model)[::-1]
    for k in range(1, len(order) + 1):
        yield order[k - 1], randomize_model(model, layers=order[:k], random_state=random_state)


def randomization_curve(
    model: nn.Module,
    explain: Callable[[nn.Module], Mapping[Any, np.ndarray]],
    *,
    cascading: bool = True,
    random_state: int = 0,
) -> Iterator[dict[str, Any]]:
    """Yield, step by step, how similar explanations stay while ``model`` is randomised.

    Parameters
    ----------
    model : nn.Module
        The trained model (not modified).
    explain : callable
        ``explain(m)`` -> ``{key: scores (n_inputs, ...)}``: the explanations of fixed inputs
        by model ``m``, under the same keys (e.g. one per method) for every ``m``. It is called
        twice with ``model`` itself (the reference, then step 0), then once per randomised
        copy.
    cascading : bool
        True: re-initialise the top 1, 2, ... layers (see :func:`cascading_randomizations`);
        False: only all layers at once (the full randomisation).
    random_state : int
        Seed of the re-initialisation (:func:`randomize_model`).

    Yields
    ------
    dict
        ``layer`` (the layer re-initialised last; ``""`` at step 0), ``n_layers_randomized``
        (0: the trained model explained again, compared with its first explanation) and
        ``correlations``: ``{key: sanity_correlation(trained, randomized)}``. The last step
        re-initialises every layer: its correlations are those of the full test.
    """
    reference = explain(model)
    order = randomizable_layers(model)[::-1]
    for k in range(len(order) + 1) if cascading else sorted({0, len(order)}):
        randomized = model if k == 0 else randomize_model(model, layers=order[:k],
                                                          random_state=random_state)
        scores = explain(randomized)
        missing = [key for key in reference if key not in scores]
        if missing:
            raise ParameterError(
                f"explain returned no scores for {missing!r} with {k} layers re-initialised: "
                "expected the same keys for every model."
            )
        yield {"layer": order[k - 1] if k else "", "n_layers_randomized": k,
               "correlations": {key: sanity_correlation(ref, scores[key])
                                for key, ref in reference.items()}}


def sanity_correlation(trained: np.ndarray, randomized: np.ndarray) -> dict[str, float]:
    """Rank correlations between explanations of the trained and of a randomised model.

    Parameters
    ----------
    trained, randomized : ndarray, shape (n_inputs, M)
        Scores of the same inputs and classes (any trailing shape; flattened per input).

    Returns
    -------
    dict
        ``spearman`` (signed scores) and ``spearman_abs`` (absolute scores), each the mean over
        inputs; ``n`` inputs. Constant score vectors count as correlation 0.
    """
    a = np.asarray(trained, dtype=np.float64)
    b = np.asarray(randomized, dtype=np.float64)
    if a.shape != b.shape or a.ndim < 2 or a.shape[0] == 0:
        raise ParameterError(
            f"trained has shape {a.shape} and randomized {b.shape}: expected equal shapes "
            "(n_inputs >= 1, ...)."
        )
    signed = [rank_correlation(x, y) for x, y in zip(a, b)]
    absolute = [rank_correlation(np.abs(x), np.abs(y)) for x, y in zip(a, b)]
    return {"spearman": float(np.mean(signed)), "spearman_abs": float(np.mean(absolute)), "n": len(a)}


def passes_sanity(correlation: dict[str, float], *, threshold: float = SANITY_THRESHOLD) -> bool:
    """True when the absolute-score correlation is below ``threshold`` (the method depends on the weights)."""
    return bool(correlation["spearman_abs"] < threshold)
