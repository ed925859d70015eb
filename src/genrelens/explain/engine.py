"""The perturbation engine: the one batched forward pass over many edited inputs.

Every perturbation explainer (LIME, KernelSHAP, the hybrid, occlusion) and every evaluation
that edits inputs (deletion/insertion curves, stability) goes through :func:`evaluate`, so
batching, the inference copy of the model, the output transform and the cost ledger are
implemented once. The gradient methods run the model themselves: they need backward passes
through the model's own layers, and Integrated Gradients batches its interpolation points in
:mod:`genrelens.explain.gradients`.

* **Models.** Any :class:`torch.nn.Module` or any callable mapping a float32 tensor
  ``(B, 1, n_mels, n_frames)`` of log-mel (dB or the front end's compression) to
  ``(B, n_classes)`` (a tensor or an array) —
  bring your own model. With ``fast=True`` an ``nn.Module`` is replaced by
  :func:`genrelens.models.fold.inference_copy` (batch norm folded into convolutions,
  channels-last; same outputs to float rounding); other callables are used as they are.
* **Outputs.** ``"probabilities"`` (softmax of the model's logits, the default for
  explanations), ``"logits"`` (the model's output, which must be logits) or ``"raw"`` (the
  output as is, e.g. for a callable that already returns probabilities). Float64.
* **Batching.** ``batch_size="auto"`` measures throughput on the first inputs over batch
  sizes 1, 2, 4, ..., 64: 8 and every larger size (halving from 8 while faster if none beats
  it; each size: one warm-up batch, then at least 32 timed inputs; these are real inputs
  whose outputs are kept), and uses the fastest; it never spends more than half of the inputs
  on probing. On CPUs with few cores small batches are often fastest; with glibc malloc, large
  batches are page-fault bound unless ``MALLOC_MMAP_THRESHOLD_`` is raised (the ``genrelens``
  command does this). A ``RuntimeError`` mentioning "out of memory" halves the batch and retries.
  Inputs are built per item with element-wise operations, so outputs do not depend on the
  batch size beyond the model's own float rounding.
* **Masks.** :func:`evaluate_masks` turns binary vectors ``z`` ``(n, M)`` into inputs:
  ``where(z[:, map], x, fill)`` for cell components (the masks of
  :meth:`Components.cell_mask_factors`, indexed batch by batch; built with numpy,
  single-threaded; exactly ``x * mask + fill * (1 - mask)`` for binary masks, without
  rounding), and for stems the log-mel of the sum of the kept parts' complex STFTs. Duplicate
  rows of ``z`` are evaluated once.
* **Waveform models.** For a :class:`~genrelens.models.waveform.WaveformModel` the input is
  its waveform and every edited input is an STFT of it, resynthesised: cell components keep or
  fill STFT cells (mel rows mapped to STFT bins as in :mod:`genrelens.explain.listen`; the fill of
  :func:`~genrelens.explain.fill.resolve_stft_fill`), stems mix their parts' STFTs, and
  :func:`genrelens.features.istft` gives the waveforms the model reads. Stems of log-mel
  models go through the same STFT mixing and then the front end's log-mel.
* **Device.** Inputs go to the device of the model's weights
  (:func:`genrelens.device.model_device`; the CPU for other callables) and only the outputs
  come back. On a device other than the CPU the masks are applied there, from ``x``, the fill
  and ``z`` copied once (a batch of inputs never crosses the bus); on the CPU they are built
  with numpy as above.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from genrelens._parallel import single_threaded_torch
from genrelens._validation import check_choice, check_int
from genrelens.config import FeatureConfig
from genrelens.device import model_device, to_numpy
from genrelens.errors import ParameterError
from genrelens.explain.components import Components
from genrelens.explain.fill import Fill
from genrelens.models.inference import check_outputs
from genrelens.models.waveform import WaveformModel

__all__ = [
    "EngineResult",
    "ModelFn",
    "evaluate",
    "evaluate_masks",
    "inference_model",
    "input_device",
    "mask_inputs",
    "resynthesise",
    "stft_mixer",
    "softmax",
    "OUTPUTS",
    "BATCH_CANDIDATES",
]

class ModelFn(Protocol):
    """A model: an ``nn.Module`` or a function mapping a float32 log-mel batch
    ``(B, 1, n_mels, n_frames)`` (in its front end's compression) to scores
    ``(B, n_classes)``, a tensor or an array."""

    def __call__(self, x: torch.Tensor, /) -> torch.Tensor | np.ndarray: ...


OUTPUTS = ("probabilities", "logits", "raw")
BATCH_CANDIDATES = (1, 2, 4, 8, 16, 32, 64)
_START = 8  # first batch size measured by the probe
_MIN_TIMED = 32  # inputs timed per candidate batch size


@dataclasses.dataclass(frozen=True)
class EngineResult:
    """Outputs and cost of one :func:`evaluate` call.

    Attributes
    ----------
    outputs : np.ndarray, float64, shape (n_inputs, n_classes)
    n_evaluations : int
        Inputs the model was run on (after removing duplicates in :func:`evaluate_masks`).
    seconds : float
        Wall-clock time including building the inputs.
    batch_size : int
        The batch size used after probing (``"auto"``) or as given.
    """

    outputs: np.ndarray
    n_evaluations: int
    seconds: float
    batch_size: int


def inference_model(model: ModelFn, *, fast: bool = True) -> ModelFn:
    """The model to run perturbations on.

    ``nn.Module``: with ``fast=True`` its :func:`~genrelens.models.fold.inference_copy`; with
    ``fast=False`` the model itself, or an eval-mode deep copy if it is in training mode
    (dropout and batch statistics would make outputs random). Other callables (and a
    :class:`~genrelens.models.waveform.WaveformModel`, whose function is the user's): unchanged.
    """
    if isinstance(model, WaveformModel):
        return model
    if isinstance(model, nn.Module):
        if fast:
            from genrelens.models.fold import inference_copy

            return inference_copy(model)
        return copy.deepcopy(model).eval() if model.training else model
    if not callable(model):
        raise ParameterError(
            f"model={type(model).__name__} is not callable: expected an nn.Module or a function "
            "from a (B, 1, n_mels, n_frames) tensor to (B, n_classes)."
        )
    return model


def input_device(model: ModelFn) -> torch.device:
    """Where the model's inputs are built: :func:`~genrelens.device.model_device`, or for a
    :class:`~genrelens.models.waveform.WaveformModel` the device of its function."""
    return model.device if isinstance(model, WaveformModel) else model_device(model)


def evaluate(
    model: ModelFn,
    make_inputs: Callable[[int, int], torch.Tensor],
    n_inputs: int,
    *,
    batch_size: int | str = "auto",
    output: str = "probabilities",
    progress: bool = False,
    fast: bool = True,
) -> EngineResult:
    """Run ``model`` on ``n_inputs`` inputs built lazily in batches.

    Parameters
    ----------
    model : nn.Module or callable
        See the module docstring.
    make_inputs : callable
        ``make_inputs(start, stop)`` returns the float32 inputs ``start..stop-1`` as a tensor
        ``(stop - start, 1, n_mels, n_frames)`` (waveform models: ``(stop - start,
        n_samples)``).
    n_inputs : int
        Number of inputs (0 is allowed and returns an empty result).
    batch_size : int or "auto"
    output : {"probabilities", "logits", "raw"}
    progress : bool
        Show a tqdm progress bar on stderr.
    fast : bool
        Use :func:`inference_model` (``fast=True``); pass ``False`` when ``model`` is already
        an inference copy.

    Returns
    -------
    EngineResult
    """
    check_choice("output", output, OUTPUTS)
    check_int("n_inputs", n_inputs, minimum=0)
    auto = batch_size == "auto"
    if not auto:
        check_int("batch_size", batch_size, minimum=1)
    run = inference_model(model, fast=fast)
    device = input_device(run)
    start_time = time.perf_counter()
    chunks: list[np.ndarray] = []
    pos = 0
    size = 1 if auto else int(batch_size)

    from tqdm.auto import tqdm

    with torch.inference_mode(), tqdm(
        total=n_inputs, disable=not progress, unit="input", desc="evaluating", leave=False
    ) as bar:

        def step(b: int) -> tuple[int, float]:
            nonlocal pos
            b = min(b, n_inputs - pos)
            t0 = time.perf_counter()
            out, used = _run_batch(run, make_inputs, pos, pos + b, output, device)
            chunks.append(out)
            pos += used
            bar.update(used)
            return used, time.perf_counter() - t0

        if auto:
            size = _probe(step, n_inputs)
        while pos < n_inputs:
            wanted = min(size, n_inputs - pos)
            used, _ = step(size)
            if used < wanted:  # out-of-memory back-off: keep the smaller batch
                size = used
    outputs = np.concatenate(chunks) if chunks else np.zeros((0, 0))
    return EngineResult(
        outputs=outputs,
        n_evaluations=int(n_inputs),
        seconds=time.perf_counter() - start_time,
        batch_size=int(size),
    )


def _probe(step: Callable[[int], tuple[int, float]], n_inputs: int) -> int:
    """Time the candidate batch sizes on the first inputs; return the fastest.

    Measures :data:`_START` and then every larger candidate the budget allows (a scan rather
    than a hill climb: on a busy CPU one noisy time stopped the climb at 8 or 4 although 64 was
    30% faster); if none beat the start, halves while that improves. Each measured size runs one warm-up batch, then at least
    :data:`_MIN_TIMED` timed inputs (all are real inputs whose outputs are kept). At most half
    of the inputs are spent on probing; inputs too few for one measurement use ``_START``.
    """
    budget = n_inputs // 2
    spent = 0
    rates: dict[int, float] = {}

    def measure(b: int) -> float | None:
        nonlocal spent
        n_timed = max(1, _MIN_TIMED // b)
        if spent + b * (1 + n_timed) > budget:
            return None
        step(b)  # warm-up: first call with a new shape allocates and picks kernels
        used_total, seconds = 0, 0.0
        for _ in range(n_timed):
            used, dt = step(b)
            used_total += used
            seconds += dt
        spent += b + used_total
        if used_total < b * n_timed:  # out-of-memory back-off: this size does not fit
            return None
        rates[b] = used_total / max(seconds, 1e-9)
        return rates[b]

    sizes = BATCH_CANDIDATES
    i = sizes.index(_START)
    if measure(sizes[i]) is None:
        return min(_START, max(1, n_inputs)) if not rates else max(rates, key=rates.__getitem__)
    for b in sizes[i + 1:]:  # every larger size the budget allows: one noisy time stops nothing
        if measure(b) is None:
            break
    if max(rates, key=rates.__getitem__) == _START:  # no larger size helped: try smaller ones
        for j in range(i - 1, -1, -1):
            rate = measure(sizes[j])
            if rate is None or rate <= rates[sizes[j + 1]]:
                break
    return max(rates, key=rates.__getitem__)


def _run_batch(
    run: ModelFn,
    make_inputs: Callable[[int, int], torch.Tensor],
    start: int,
    stop: int,
    output: str,
    device: torch.device,
) -> tuple[np.ndarray, int]:
    """Run one batch on ``device``; on out-of-memory halve it (down to 1). Returns outputs (on
    the CPU) and the batch size used."""
    while True:
        try:
            x = make_inputs(start, stop).to(device, non_blocking=True)
            y = run(x)
            break
        except RuntimeError as exc:
            if "out of memory" not in str(exc).lower() or stop - start == 1:
                raise
            stop = start + (stop - start) // 2
    y = check_outputs(y, n_inputs=stop - start, first=start)
    out = to_numpy(y, torch.float64)
    return (softmax(out) if output == "probabilities" else out), stop - start


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (class probabilities from logits), float64."""
    out: np.ndarray = np.exp(logits - logits.max(axis=-1, keepdims=True))
    out /= out.sum(axis=-1, keepdims=True)
    return out


def _numpy_masks(device: torch.device) -> bool:
    """Whether :func:`mask_inputs` builds inputs with numpy (on the CPU) or with torch."""
    return device.type == "cpu"


def mask_inputs(
    logmel: np.ndarray,
    components: Components,
    z: np.ndarray,
    fill: Fill | None,
    *,
    device: torch.device | str = "cpu",
    waveform: np.ndarray | None = None,
) -> Callable[[int, int], torch.Tensor]:
    """The ``make_inputs(start, stop)`` function of :func:`evaluate` for binary vectors ``z``.

    Parameters
    ----------
    logmel : np.ndarray, shape (n_mels, n_frames)
    components : Components
    z : np.ndarray, shape (n, n_components), values 0/1
    fill : Fill or None
        For cell components; ignored (None or ``"remove"``) for stems. With ``waveform``: the
        complex STFT fill of :func:`~genrelens.explain.fill.resolve_stft_fill`.
    device : torch.device or str, default "cpu"
        Where the inputs are built and returned (the model's device).
    waveform : np.ndarray, shape (n_samples,), optional
        For a model that reads waveforms: the clip's waveform. Each row of ``z`` then gives an
        edited STFT of it (cells: kept or fill; stems: the kept parts' sum), resynthesised by
        :func:`genrelens.features.istft` to ``n_samples``: inputs ``(B, n_samples)``. Without
        it, stems are turned into the log-mel of the mixture: inputs ``(B, 1, n_mels,
        n_frames)``. Both share one STFT-domain mixing step.
    """
    device = torch.device(device)
    on_cpu = _numpy_masks(device)

    def there(array: np.ndarray) -> np.ndarray | torch.Tensor:
        """``array`` where the masks are applied: numpy on the CPU, else a tensor on device."""
        return array if on_cpu else torch.from_numpy(array).to(device)

    if components.stems is None and waveform is None:
        assert components.map is not None and fill is not None and fill.array is not None
        # numpy, single-threaded: on a busy 2-core CPU torch's threaded element-wise ops
        # were ~10x slower for these few-MB batches (waiting for the descheduled thread)
        n_mels, n_frames = components.shape
        x = there(np.ascontiguousarray(logmel, dtype=np.float32).ravel())
        f = there(np.ascontiguousarray(fill.array, dtype=np.float32).ravel())
        keep, cells = (there(a) for a in components.cell_mask_factors(z))
        where: Callable[..., np.ndarray | torch.Tensor] = np.where if on_cpu else torch.where

        def make(start: int, stop: int) -> torch.Tensor:
            batch = where(keep[start:stop][:, cells], x, f)
            return torch.as_tensor(batch).reshape(-1, 1, n_mels, n_frames)

        return make

    from genrelens import features

    config = components.config
    mix = stft_mixer(components, fill, device=device, waveform=waveform)
    gates = torch.from_numpy(np.asarray(z, dtype=np.float32)).to(device)
    if waveform is not None:
        length = int(np.shape(waveform)[-1])

        def make_waveforms(start: int, stop: int) -> torch.Tensor:
            return resynthesise(mix(gates[start:stop]), config=config, length=length)

        return make_waveforms

    def make_stems(start: int, stop: int) -> torch.Tensor:
        power = features.mel_power_from_stft(mix(gates[start:stop]), config=config)
        return features.compress(power, config=config).to(torch.float32).unsqueeze(1)

    return make_stems


def resynthesise(spec: torch.Tensor, *, config: FeatureConfig, length: int) -> torch.Tensor:
    """Waveforms ``(B, length)``, float32, of edited STFTs ``(B, 1 + n_fft // 2, n_frames)``
    (:func:`genrelens.features.istft`; differentiable). On one torch thread, as the mixing
    (:func:`stft_mixer`): measured 5 vs 25 ms per 3-s input at 16 kHz (n_fft 2048) with one
    vs two threads on a busy 2-core machine (load 15)."""
    from genrelens import features

    with single_threaded_torch():
        waveforms: torch.Tensor = features.istft(spec, config=config, length=length)
        return waveforms.to(torch.float32)


def stft_mixer(
    components: Components,
    fill: Fill | None,
    *,
    device: torch.device | str = "cpu",
    waveform: np.ndarray | None = None,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``mix(gates)``: the complex STFTs ``(B, 1 + n_fft // 2, n_frames)`` of gate vectors
    ``(B, n_components)`` (1 = kept, 0 = off; fractions interpolate), on ``device``,
    differentiable in the gates. Mixing runs on one torch thread (as the numpy masks of cell
    inputs): on a busy 2-core machine two intra-op threads made this small product up to
    1000x slower (measured 0.07-3.7 s vs 1 ms for 4 x 3 parts x 129 x 126 at load 15).

    Stems: the gate-weighted sum of the parts. Cell components (waveform models only):
    ``fill + mask * (S - fill)`` with ``S`` the waveform's STFT and ``mask`` the gated mel cells
    mapped to STFT bins by :func:`genrelens.explain.listen.mel_to_linear` (the filterbank
    weights of listenable explanations: 1 where all mel rows under a bin are kept, 0 where
    none is, a fraction between bands kept and removed). Cells of no component are kept.

    Parameters
    ----------
    components : Components
    fill : Fill or None
        Cells: the complex fill of :func:`~genrelens.explain.fill.resolve_stft_fill`.
    device : torch.device or str
    waveform : np.ndarray, shape (n_samples,), optional
        Required for cell components.
    """
    from genrelens import features

    device = torch.device(device)
    if components.stems is not None:
        stems = components.stems
        parts = torch.from_numpy(np.array(stems.stft, dtype=np.complex64)).to(device)
        seg = torch.from_numpy(np.array(stems.segment_of_frame)).to(device)
        n_parts, n_segments = len(stems.names), stems.n_segments

        def mix_parts(gates: torch.Tensor) -> torch.Tensor:
            with single_threaded_torch():
                keep = gates.reshape(-1, n_parts, n_segments)[:, :, seg]  # (B, P, T)
                return torch.einsum("bpt,pft->bft", keep.to(parts.dtype), parts)

        return mix_parts
    if waveform is None or fill is None or fill.array is None or components.map is None:
        raise ParameterError(
            "cell components are mixed in the STFT domain only for a waveform model: pass "
            "waveform= and the fill of resolve_stft_fill()."
        )
    from genrelens.explain.listen import mel_to_linear

    spec = features.stft(torch.from_numpy(np.asarray(waveform, dtype=np.float32)),
                         config=components.config).to(device)
    off = torch.from_numpy(np.asarray(fill.array, dtype=np.complex64)).to(device)
    if off.shape != spec.shape:
        raise ParameterError(
            f"fill has shape {tuple(off.shape)}: a waveform model's fill is the complex STFT "
            f"{tuple(spec.shape)} of resolve_stft_fill()."
        )
    to_bins = torch.from_numpy(mel_to_linear(components.config).astype(np.float32)).to(device)
    m = components.n_components
    cells = torch.from_numpy(np.where(components.map < 0, m, components.map)).to(device)
    change = spec - off

    def mix_cells(gates: torch.Tensor) -> torch.Tensor:
        with single_threaded_torch():
            padded = torch.cat([gates, gates.new_ones((gates.shape[0], 1))], dim=1)
            keep = padded[:, cells]  # (B, n_mels, n_frames)
            return off + torch.matmul(to_bins, keep) * change  # (B, n_freq, n_frames)

    return mix_cells


def evaluate_masks(
    model: ModelFn,
    logmel: np.ndarray,
    components: Components,
    z: np.ndarray,
    *,
    fill: Fill,
    batch_size: int | str = "auto",
    output: str = "probabilities",
    progress: bool = False,
    fast: bool = True,
) -> EngineResult:
    """Evaluate ``model`` on the inputs given by binary vectors ``z`` (duplicates run once).

    Parameters
    ----------
    model : nn.Module or callable
    logmel : np.ndarray, shape (n_mels, n_frames), or (n_samples,)
        The input being explained (for stems: only its shape is used); for a
        :class:`~genrelens.models.waveform.WaveformModel`, its waveform (see
        :func:`mask_inputs`).
    components : Components
    z : np.ndarray, shape (n, n_components)
        1 = component kept, 0 = switched off (replaced by ``fill``).
    fill : Fill
        From :func:`genrelens.explain.fill.resolve_fill` (waveform models:
        :func:`~genrelens.explain.fill.resolve_stft_fill`).
    batch_size, output, progress, fast
        As in :func:`evaluate`.

    Returns
    -------
    EngineResult
        ``outputs`` has one row per row of ``z``; ``n_evaluations`` counts distinct rows.
    """
    waveform = model.check_waveform(logmel) if isinstance(model, WaveformModel) else None
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[1] != components.n_components:
        raise ParameterError(
            f"z has shape {z.shape}: expected (n_samples, {components.n_components}) "
            "(one column per component)."
        )
    if not np.all((z == 0) | (z == 1)):
        raise ParameterError("z has values other than 0 and 1: expected a binary matrix.")
    if waveform is not None:
        n_frames = 1 + waveform.size // components.config.hop_length
        if n_frames != components.shape[1]:
            raise ParameterError(
                f"the waveform has {waveform.size} samples ({n_frames} STFT frames) but "
                f"components were built for {components.shape[1]} frames: build them with "
                f"n_frames={n_frames}."
            )
    elif tuple(np.shape(logmel)) != tuple(components.shape):
        raise ParameterError(
            f"logmel has shape {np.shape(logmel)} but components were built for "
            f"{tuple(components.shape)} (n_mels, n_frames)."
        )
    unique, inverse = np.unique(z.astype(np.bool_), axis=0, return_inverse=True)
    result = evaluate(
        model,
        mask_inputs(logmel, components, unique, fill, device=input_device(model),
                    waveform=waveform),
        unique.shape[0],
        batch_size=batch_size,
        output=output,
        progress=progress,
        fast=fast,
    )
    return dataclasses.replace(result, outputs=result.outputs[inverse.reshape(-1)])
