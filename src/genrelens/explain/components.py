"""Interpretable components of one log-mel input: what an explanation attributes to.

Components are *data*, not subclasses: a :class:`Components` holds either

* an integer map of shape ``(n_mels, n_frames)`` giving the component id of every
  time-frequency cell (``-1`` where a cell belongs to no component and is always kept), or
* for stems, the complex STFTs of the parts of the mixture and the time segment of every
  frame: component ``p * n_segments + s`` is part ``p`` during time segment ``s``.

For a model that reads waveforms (:class:`~genrelens.models.waveform.WaveformModel`) the same
components act on the waveform's STFT: a cell component's mel rows are mapped to STFT bins by
the filterbank weights of :func:`genrelens.explain.listen.mel_to_linear` (the mapping of
listenable explanations, so what the model hears is what one listens to), stems are already
STFT parts, and the engine resynthesises every edited STFT; the log-mel ``shape`` is then the
one of pictures.

Every component has a name and an :class:`Extent` in seconds and Hz. The perturbation engine
(:mod:`genrelens.explain.engine`) turns a binary vector ``z`` of length ``n_components`` into
a model input: for a map, ``x * mask + fill * (1 - mask)`` with ``mask = z[map]``; for stems,
the log-mel of the sum of the kept parts' complex STFTs (a log-mel of a sum is not a sum of
log-mels, so stems are mixed in the linear STFT domain).

Constructors
------------
time_segments, frequency_bands, tf_grid : regular partitions of the log-mel.
superpixels : SLIC / Felzenszwalb segmentation of the log-mel image (needs scikit-image).
from_map : any user-given integer map (e.g. a hand-drawn region or another segmentation).
stems : harmonic / percussive / residual (median-filter HPSS, Fitzgerald 2010; soft masks as in
    Driedger, Müller & Disch 2014) or any user separator, crossed with time segments.

Frequencies: mel bin ``i`` is centred at ``mel_frequencies(config)[i]``; a bin spans from the
midpoint with its lower neighbour to the midpoint with its upper neighbour (the first from
``fmin``, the last to ``fmax``). Times: frame ``t`` is centred at ``t * hop_length / sr``
seconds; a run of frames ``[a, b)`` spans ``[a, b) * hop_length / sr`` seconds.

References
----------
Fitzgerald, D. (2010). Harmonic/percussive separation using median filtering. DAFx.
Driedger, J., Müller, M., & Disch, S. (2014). Extending harmonic-percussive separation of
audio signals. ISMIR.
Mishra, S., Sturm, B. L., & Dixon, S. (2017). Local interpretable model-agnostic explanations
for music content analysis. ISMIR (temporal and time-frequency components for audio).
Haunschmid, V., Manilow, E., & Widmer, G. (2020). audioLIME: Listenable explanations using
source separation (stems as components).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from genrelens._validation import check_int
from genrelens.config import FeatureConfig
from genrelens.errors import ParameterError

if TYPE_CHECKING:
    import torch

__all__ = [
    "Components",
    "Extent",
    "StemParts",
    "Separator",
    "time_segments",
    "frequency_bands",
    "tf_grid",
    "superpixels",
    "from_map",
    "stems",
    "hpss",
]

#: A source separator: waveform ``(n_samples,)`` -> {part name: waveform (n_samples,) or
#: complex STFT (1 + n_fft // 2, n_frames) with the framing of :func:`genrelens.features.stft`}.
Separator = Callable[[np.ndarray], Mapping[str, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class Extent:
    """Where a component lies: ``[start_s, end_s)`` seconds and ``[low_hz, high_hz]`` Hz."""

    start_s: float
    end_s: float
    low_hz: float
    high_hz: float


@dataclasses.dataclass(frozen=True, eq=False)
class StemParts:
    """The parts of a mixture for stem components.

    Attributes
    ----------
    names : tuple of str
        Part names, e.g. ``("harmonic", "percussive", "residual")``.
    stft : np.ndarray, complex64, shape (n_parts, 1 + n_fft // 2, n_frames)
        Complex STFT of every part; their sum is the mixture that is explained.
    segment_of_frame : np.ndarray, int64, shape (n_frames,)
        Time segment (``0 .. n_segments - 1``) of every frame.
    n_segments : int
        Number of time segments; component ``p * n_segments + s`` is part ``p`` in segment ``s``.
    separator : str
        How the parts were obtained (``"hpss"`` or the separator's name), for the record.
    """

    names: tuple[str, ...]
    stft: np.ndarray
    segment_of_frame: np.ndarray
    n_segments: int
    separator: str


@dataclasses.dataclass(frozen=True, eq=False)
class Components:
    """Interpretable components of one input of shape ``(n_mels, n_frames)``.

    Attributes
    ----------
    kind : str
        ``"time"``, ``"frequency"``, ``"tf_grid"``, ``"superpixels"``, ``"custom"`` or ``"stems"``.
    shape : tuple of int
        ``(n_mels, n_frames)`` of the input the components belong to.
    names : tuple of str
        One human-readable name per component, with its seconds / Hz extent.
    extents : tuple of Extent
        One extent per component.
    config : FeatureConfig
        The feature configuration used for seconds and Hz (and to mix stems).
    map : np.ndarray of int64, shape (n_mels, n_frames), or None
        Component id of every cell, ``-1`` where none; ``None`` for stems.
    stems : StemParts or None
        The parts for ``kind == "stems"``, else ``None``.
    params : dict
        How the components were built (JSON-ready), for the record.
    """

    kind: str
    shape: tuple[int, int]
    names: tuple[str, ...]
    extents: tuple[Extent, ...]
    config: FeatureConfig
    map: np.ndarray | None = None
    stems: StemParts | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.extents):
            raise ParameterError(
                f"names has {len(self.names)} entries but extents has {len(self.extents)}: "
                "expected one of each per component."
            )
        if (self.map is None) == (self.stems is None):
            raise ParameterError("components need exactly one of map= (cells) or stems= (parts).")
        if self.map is not None:
            object.__setattr__(self, "map", np.array(self.map, dtype=np.int64))  # own copy
            _check_map(self.map, n_components=len(self.names), shape=self.shape)
            self.map.setflags(write=False)
        else:
            assert self.stems is not None  # for type checkers; guaranteed above
            expected = len(self.stems.names) * self.stems.n_segments
            if expected != len(self.names):
                raise ParameterError(
                    f"stems give {expected} components but names has {len(self.names)} entries."
                )
            self.stems.stft.setflags(write=False)
            self.stems.segment_of_frame.setflags(write=False)

    @property
    def n_components(self) -> int:
        """Number of components ``M``."""
        return len(self.names)

    def __len__(self) -> int:
        return self.n_components

    def __repr__(self) -> str:
        n_mels, n_frames = self.shape
        return (
            f"Components(kind={self.kind!r}, n_components={self.n_components}, "
            f"shape=({n_mels}, {n_frames}))"
        )

    def cell_mask_factors(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The cell masks of binary vectors ``z`` ``(n, M)``, as two factors: what the engine
        keeps of the input for each row of ``z`` is ``keep[:, cells]``, flattened boolean masks
        ``(n, n_mels * n_frames)`` (True = kept; the engine indexes them batch by batch, on the
        model's device).

        Only for map components (for stems the engine mixes STFTs instead). Cells of no
        component (map value ``-1``) are always kept.

        Returns
        -------
        keep : np.ndarray, bool, shape (n, M + 1)
            ``z`` with one more column, always True: the column of cells of no component.
        cells : np.ndarray, int64, shape (n_mels * n_frames,)
            The column of ``keep`` of every cell: its component, ``M`` for none.
        """
        if self.map is None:
            raise ParameterError(
                "cell_mask_factors() needs map components; stems are mixed as STFTs."
            )
        z = np.asarray(z, dtype=np.bool_)
        keep = np.concatenate([z, np.ones((z.shape[0], 1), dtype=np.bool_)], axis=1)
        return keep, np.where(self.map < 0, z.shape[1], self.map).ravel()

    def paint(self, values: np.ndarray, *, spread: bool = False,
              uncovered: float = 0.0) -> np.ndarray:
        """Values per component ``(M,)`` painted onto the cells, ``(n_mels, n_frames)``.

        Every cell carries its component's value (``spread=True``: the value divided by the
        component's number of cells, so that the map sums to the values, as :meth:`sum_cells`
        reads it back); cells of no component carry ``uncovered``.

        Raises
        ------
        ParameterError
            For stem components (no cells), or when ``values`` is not one value per component.
        """
        if self.map is None:
            raise ParameterError(
                f"paint() needs cell components; kind={self.kind!r} holds parts of the mixture, "
                "not cells of the input."
            )
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (self.n_components,):
            raise ParameterError(f"values has shape {values.shape}: expected "
                                 f"({self.n_components},), one value per component.")
        if spread:
            counts = np.bincount(self.map[self.map >= 0], minlength=self.n_components)
            values = values / np.maximum(counts, 1)
        painted: np.ndarray = np.append(values, uncovered)[self.map]
        return painted

    def sum_cells(self, maps: np.ndarray) -> np.ndarray:
        """Cell values ``(..., n_mels, n_frames)`` summed over each component's cells,
        ``(..., M)``: a dense map (Grad-CAM, Integrated Gradients) seen through the components.

        Cells of no component (``-1`` in :attr:`map`) count for none.

        Raises
        ------
        ParameterError
            For stem components (no cells), or when the last two axes of ``maps`` are not
            :attr:`shape`.
        """
        if self.map is None:
            raise ParameterError(
                f"sum_cells() needs cell components; kind={self.kind!r} holds parts of the "
                "mixture, not cells of the input."
            )
        maps = np.asarray(maps, dtype=np.float64)
        if maps.shape[-2:] != self.shape:
            raise ParameterError(
                f"maps has shape {maps.shape}: expected (..., {self.shape[0]}, {self.shape[1]}), "
                "the input shape of the components."
            )
        flat = maps.reshape(-1, self.map.size)
        ids = self.map.ravel()
        keep = ids >= 0
        sums = np.stack([np.bincount(ids[keep], weights=row[keep], minlength=self.n_components)
                         for row in flat])
        out: np.ndarray = sums.reshape(*maps.shape[:-2], self.n_components)
        return out

    def to_feature_mask(self, *, batch_size: int = 1) -> torch.Tensor:
        """The components as captum's ``feature_mask``: one integer id per input cell.

        captum's perturbation attributions (``FeatureAblation``, ``Lime``, ``KernelShap``,
        ``ShapleyValueSampling``, ...) switch off together the cells that share an id;
        with this mask they perturb the same components as genrelens. For example,
        ``FeatureAblation(f).attribute(x, baselines=b, target=c, feature_mask=mask)`` with a
        constant baseline ``b`` gives every cell of component ``j`` the score of
        ``explain(..., method="occlusion", fill=b)`` for component ``j``.

        Parameters
        ----------
        batch_size : int, default 1
            Leading size of the mask, to match a batch of inputs (captum also broadcasts a
            mask of batch size 1).

        Returns
        -------
        torch.Tensor, int64, shape (batch_size, 1, n_mels, n_frames)
            The model input's shape; cell values are component ids ``0 .. M - 1``. Cells of
            no component (``-1`` in :attr:`map`, always kept by genrelens) get the extra id
            ``M``: captum perturbs them as one more feature, whose attribution has no
            counterpart here.

        Raises
        ------
        ParameterError
            For stem components (parts of the mixture, not cells of the input), or when
            ``batch_size`` is not a positive integer.
        """
        import torch

        check_int("batch_size", batch_size, minimum=1)
        if self.map is None:
            raise ParameterError(
                f"to_feature_mask() needs cell components; kind={self.kind!r} holds parts of "
                "the mixture, which no mask of the input can express."
            )
        ids = np.where(self.map >= 0, self.map, self.n_components)
        mask = torch.from_numpy(ids.astype(np.int64))
        return mask.expand(batch_size, 1, *self.shape).contiguous()

    def to_record(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Split into a JSON-ready dict and a dict of arrays (for :mod:`numpy` ``.npz``)."""
        record: dict[str, Any] = {
            "kind": self.kind,
            "shape": list(self.shape),
            "names": list(self.names),
            "extents": [dataclasses.astuple(e) for e in self.extents],
            "config": self.config.to_dict(),
            "params": dict(self.params),
        }
        arrays: dict[str, np.ndarray] = {}
        if self.map is not None:
            arrays["components_map"] = np.asarray(self.map)
        else:
            assert self.stems is not None
            record["stems"] = {
                "names": list(self.stems.names),
                "n_segments": self.stems.n_segments,
                "separator": self.stems.separator,
            }
            arrays["stems_stft"] = np.asarray(self.stems.stft)
            arrays["stems_segment_of_frame"] = np.asarray(self.stems.segment_of_frame)
        return record, arrays

    @classmethod
    def from_record(cls, record: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Components:
        """Rebuild from :meth:`to_record` output."""
        stem_parts = None
        if "stems" in record:
            info = record["stems"]
            stem_parts = StemParts(
                names=tuple(info["names"]),
                stft=np.array(arrays["stems_stft"], dtype=np.complex64),
                segment_of_frame=np.array(arrays["stems_segment_of_frame"], dtype=np.int64),
                n_segments=int(info["n_segments"]),
                separator=str(info["separator"]),
            )
        return cls(
            kind=str(record["kind"]),
            shape=(int(record["shape"][0]), int(record["shape"][1])),
            names=tuple(record["names"]),
            extents=tuple(Extent(*map(float, e)) for e in record["extents"]),
            config=FeatureConfig.from_dict(record["config"]),
            map=None if stem_parts else np.array(arrays["components_map"], dtype=np.int64),
            stems=stem_parts,
            params=dict(record.get("params", {})),
        )


# ---------------------------------------------------------------------------- constructors


def time_segments(
    *,
    n_mels: int | None = None,
    n_frames: int | None = None,
    n_segments: int | None = 10,
    seconds: float | None = None,
    config: FeatureConfig | None = None,
) -> Components:
    """Consecutive time segments covering all mel bins.

    Parameters
    ----------
    n_mels, n_frames : int, optional
        Input shape; default ``config.n_mels`` and ``config.n_frames``.
    n_segments : int, default 10
        Number of (near-)equal segments; ignored when ``seconds`` is given.
    seconds : float, optional
        Segment length in seconds instead (the last segment may be shorter).
    config : FeatureConfig, optional
        For seconds and Hz; default ``FeatureConfig(n_mels=n_mels)``.

    Returns
    -------
    Components
        ``kind="time"``, one component per segment.
    """
    config, n_mels, n_frames = _resolve_shape(config, n_mels, n_frames)
    bounds = _time_bounds(n_frames, n_segments=n_segments, seconds=seconds, config=config)
    seg = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    cmap = np.broadcast_to(seg, (n_mels, n_frames)).astype(np.int64)
    low, high = _band_extent(config, n_mels, 0, n_mels)
    extents = tuple(
        Extent(*_frame_seconds(config, a, b), low, high) for a, b in zip(bounds[:-1], bounds[1:])
    )
    names = tuple(f"t {e.start_s:.2f}-{e.end_s:.2f} s" for e in extents)
    return Components(
        kind="time", shape=(n_mels, n_frames), names=names, extents=extents, config=config,
        map=cmap, params={"n_segments": len(extents), "seconds": seconds},
    )


def frequency_bands(
    *,
    n_mels: int | None = None,
    n_frames: int | None = None,
    n_bands: int = 8,
    edges_hz: Sequence[float] | None = None,
    config: FeatureConfig | None = None,
) -> Components:
    """Frequency bands: mel bins grouped by band edges in Hz, over all frames.

    A mel bin belongs to band ``b`` when its centre frequency lies in
    ``[edges_hz[b], edges_hz[b + 1])`` (the last band includes its upper edge).

    Parameters
    ----------
    n_mels, n_frames : int, optional
        Input shape; default from ``config``.
    n_bands : int, default 8
        Number of log-spaced bands when ``edges_hz`` is not given: edges ``fmin``, then
        geometrically spaced from ``max(fmin, 30 Hz)`` to ``fmax``. Default bands that would
        hold no mel bin (narrow low bands with few mel bins) are merged into a neighbour
        (the band below; the lowest into the band above), so fewer than ``n_bands``
        components may result; ``params["edges_hz"]``
        records the edges actually used.
    edges_hz : sequence of float, optional
        Increasing band edges in Hz (``n_bands + 1`` values). Every band must hold a mel bin.
    config : FeatureConfig, optional
        For Hz; default ``FeatureConfig(n_mels=n_mels)``.

    Returns
    -------
    Components
        ``kind="frequency"``, one component per band, low to high.
    """
    config, n_mels, n_frames = _resolve_shape(config, n_mels, n_frames)
    centres = _mel_centres(config, n_mels)
    if edges_hz is None:
        check_int("n_bands", n_bands, minimum=1)
        lo = max(config.fmin, 30.0)
        inner: np.ndarray | list[float] = (np.geomspace(lo, config.fmax_hz, n_bands + 1)[1:-1]
                                           if n_bands > 1 else [])
        edges = np.array([config.fmin, *inner, config.fmax_hz])
        band = _assign_bands(centres, edges)
        used = np.unique(band)  # dropping the lower edge of an empty band merges it downward
        edges = np.array([*edges[used], edges[-1]])
        edges[0] = config.fmin  # an empty lowest band merges upward
        band = _assign_bands(centres, edges)
    else:
        edges = np.asarray(edges_hz, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ParameterError(
                f"edges_hz={list(edges_hz)!r} is invalid: expected at least 2 increasing "
                "frequencies in Hz."
            )
        band = _assign_bands(centres, edges)
        counts = np.bincount(band[band >= 0], minlength=edges.size - 1)
        if np.any(counts == 0):
            empty = [f"{edges[b]:g}-{edges[b + 1]:g} Hz" for b in np.flatnonzero(counts == 0)]
            raise ParameterError(
                f"edges_hz={list(edges_hz)!r} gives bands without any mel bin "
                f"({', '.join(empty)}); mel bin centres run from {centres[0]:.1f} to "
                f"{centres[-1]:.1f} Hz: widen the bands."
            )
    cmap = np.broadcast_to(band[:, None], (n_mels, n_frames)).astype(np.int64)
    t0, t1 = _frame_seconds(config, 0, n_frames)
    extents = tuple(
        Extent(t0, t1, float(edges[b]), float(edges[b + 1])) for b in range(edges.size - 1)
    )
    names = tuple(f"f {e.low_hz:.0f}-{e.high_hz:.0f} Hz" for e in extents)
    return Components(
        kind="frequency", shape=(n_mels, n_frames), names=names, extents=extents, config=config,
        map=cmap, params={"n_bands": len(extents), "edges_hz": edges.tolist()},
    )


def tf_grid(
    *,
    n_mels: int | None = None,
    n_frames: int | None = None,
    n_time: int = 10,
    n_freq: int = 8,
    config: FeatureConfig | None = None,
) -> Components:
    """A grid of time-frequency patches: ``n_time`` segments × ``n_freq`` groups of mel bins.

    Mel bins are split into ``n_freq`` groups of (near-)equal numbers of bins, i.e. equal
    widths on the mel scale. Component ``f * n_time + t`` is frequency group ``f`` (low to
    high) in time segment ``t``.

    Returns
    -------
    Components
        ``kind="tf_grid"``, ``n_time * n_freq`` components.
    """
    config, n_mels, n_frames = _resolve_shape(config, n_mels, n_frames)
    check_int("n_time", n_time, minimum=1)
    check_int("n_freq", n_freq, minimum=1)
    if n_time > n_frames or n_freq > n_mels:
        raise ParameterError(
            f"n_time={n_time}, n_freq={n_freq} do not fit an input of n_frames={n_frames}, "
            f"n_mels={n_mels}: expected n_time <= n_frames and n_freq <= n_mels."
        )
    tb = _even_bounds(n_frames, n_time)
    fb = _even_bounds(n_mels, n_freq)
    t_of = np.repeat(np.arange(n_time), np.diff(tb))
    f_of = np.repeat(np.arange(n_freq), np.diff(fb))
    cmap = (f_of[:, None] * n_time + t_of[None, :]).astype(np.int64)
    extents, names = [], []
    for f in range(n_freq):
        low, high = _band_extent(config, n_mels, fb[f], fb[f + 1])
        for t in range(n_time):
            e = Extent(*_frame_seconds(config, tb[t], tb[t + 1]), low, high)
            extents.append(e)
            names.append(f"t {e.start_s:.2f}-{e.end_s:.2f} s, f {e.low_hz:.0f}-{e.high_hz:.0f} Hz")
    return Components(
        kind="tf_grid", shape=(n_mels, n_frames), names=tuple(names), extents=tuple(extents),
        config=config, map=cmap, params={"n_time": n_time, "n_freq": n_freq},
    )


def from_map(
    component_map: np.ndarray,
    *,
    names: Sequence[str] | None = None,
    config: FeatureConfig | None = None,
    kind: str = "custom",
) -> Components:
    """Components from any integer map ``(n_mels, n_frames)`` with ids ``0..M-1`` and ``-1``.

    Every id from 0 to the maximum must occur. Extents are the bounding boxes of the cells.
    """
    cmap = np.asarray(component_map)
    if cmap.ndim != 2 or not np.issubdtype(cmap.dtype, np.integer):
        raise ParameterError(
            f"component_map has shape {cmap.shape} and dtype {cmap.dtype}: expected an integer "
            "array (n_mels, n_frames)."
        )
    config, n_mels, n_frames = _resolve_shape(config, cmap.shape[0], cmap.shape[1])
    n = int(cmap.max()) + 1 if cmap.size else 0
    if n == 0:
        raise ParameterError(
            f"component_map of shape {cmap.shape} holds no component (every cell is -1): expected "
            "ids 0..M-1 with M >= 1 marking the regions to explain."
        )
    _check_map(cmap, n_components=n, shape=(n_mels, n_frames))
    extents = []
    for j in range(n):
        rows, cols = np.nonzero(cmap == j)
        low, _ = _band_extent(config, n_mels, rows.min(), rows.min() + 1)
        _, high = _band_extent(config, n_mels, rows.max(), rows.max() + 1)
        extents.append(Extent(*_frame_seconds(config, cols.min(), cols.max() + 1), low, high))
    if names is None:
        names = [
            f"#{j} t {e.start_s:.2f}-{e.end_s:.2f} s, f {e.low_hz:.0f}-{e.high_hz:.0f} Hz"
            for j, e in enumerate(extents)
        ]
    elif len(names) != n:
        raise ParameterError(f"names has {len(names)} entries: expected {n}, one per component id.")
    return Components(
        kind=kind, shape=(n_mels, n_frames), names=tuple(map(str, names)), extents=tuple(extents),
        config=config, map=cmap.astype(np.int64), params={},
    )


def superpixels(
    logmel: np.ndarray,
    *,
    method: str = "slic",
    n_segments: int = 40,
    compactness: float = 1.0,
    scale: float = 100.0,
    config: FeatureConfig | None = None,
) -> Components:
    """Superpixels of the log-mel image (SLIC or Felzenszwalb), as LIME does for images.

    Needs scikit-image (optional dependency, imported here only). The image is the log-mel
    rescaled to [0, 1].

    Parameters
    ----------
    logmel : np.ndarray, shape (n_mels, n_frames)
    method : {"slic", "felzenszwalb"}
    n_segments, compactness : SLIC parameters (Achanta et al. 2012).
    scale : Felzenszwalb & Huttenlocher (2004) scale parameter.
    """
    try:
        from skimage import segmentation
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ParameterError(
            "superpixels() needs scikit-image: pip install 'genrelens[superpixels]'; or use "
            "tf_grid()."
        ) from exc
    image = np.asarray(logmel, dtype=np.float64)
    if image.ndim != 2:
        raise ParameterError(f"logmel has shape {image.shape}: expected (n_mels, n_frames).")
    span = float(image.max() - image.min())
    image = (image - image.min()) / span if span > 0 else np.zeros_like(image)
    if method == "slic":
        labels = segmentation.slic(
            image, n_segments=n_segments, compactness=compactness, channel_axis=None,
            start_label=0,
        )
    elif method == "felzenszwalb":
        labels = segmentation.felzenszwalb(image, scale=scale)
    else:
        raise ParameterError(f"method={method!r} is unknown: expected 'slic' or 'felzenszwalb'.")
    _, labels = np.unique(labels, return_inverse=True)
    comps = from_map(labels.reshape(image.shape), config=config, kind="superpixels")
    params = {"method": method, "n_segments": n_segments, "compactness": compactness,
              "scale": scale}
    return dataclasses.replace(comps, params=params)


def hpss(
    S: np.ndarray, *, kernel_size: int = 31, margin: float = 2.0, power: float = 2.0
) -> dict[str, np.ndarray]:
    """Harmonic / percussive / residual parts of a complex STFT by median filtering.

    Median filtering of the magnitude along time enhances harmonic (horizontal) structure and
    along frequency percussive (vertical) structure (Fitzgerald 2010). Soft masks with a
    separation margin ``m`` (Driedger et al. 2014)::

        M_h = H^p / (H^p + (m P)^p),   M_p = P^p / (P^p + (m H)^p),   M_r = 1 - M_h - M_p

    so the three parts sum exactly to ``S``.

    Parameters
    ----------
    S : np.ndarray, complex, shape (n_freq, n_frames)
    kernel_size : int, default 31
        Median filter length (frames for harmonic, bins for percussive).
    margin : float, default 2.0
        ``m >= 1``; larger gives purer harmonic/percussive parts and a larger residual.
    power : float, default 2.0
        Mask exponent ``p``.

    Returns
    -------
    dict
        ``{"harmonic", "percussive", "residual"}`` -> complex arrays like ``S``.
    """
    from scipy.ndimage import median_filter

    check_int("kernel_size", kernel_size, minimum=1)
    if not margin >= 1.0:
        raise ParameterError(f"margin={margin!r} is invalid: expected a number >= 1.")
    mag = np.abs(S).astype(np.float64)
    harm = median_filter(mag, size=(1, kernel_size), mode="reflect")
    perc = median_filter(mag, size=(kernel_size, 1), mode="reflect")
    hp, pp = harm**power, perc**power
    tiny = np.finfo(np.float64).tiny
    mask_h = hp / (hp + margin**power * pp + tiny)
    mask_p = pp / (pp + margin**power * hp + tiny)
    mask_r = 1.0 - mask_h - mask_p
    return {"harmonic": mask_h * S, "percussive": mask_p * S, "residual": mask_r * S}


def stems(
    y: np.ndarray,
    *,
    config: FeatureConfig,
    n_segments: int | None = 10,
    seconds: float | None = None,
    separator: Separator | None = None,
    kernel_size: int = 31,
    margin: float = 2.0,
) -> Components:
    """Stem components: parts of the waveform ``y`` crossed with time segments.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        The waveform of the segment being explained (e.g. 3 s at ``config.sr``).
    config : FeatureConfig
        Framing and mel parameters; the mixture's log-mel has ``1 + n_samples // hop`` frames.
    n_segments, seconds
        Time segmentation, as in :func:`time_segments`.
    separator : callable, optional
        ``y -> {name: waveform (n_samples,) or complex STFT (1 + n_fft//2, n_frames)}``, e.g. a
        wrapper around demucs or open-unmix. Default: :func:`hpss` (harmonic, percussive,
        residual; no model, no download).
    kernel_size, margin
        Parameters of :func:`hpss`.

    Returns
    -------
    Components
        ``kind="stems"``; component ``p * n_segments + s`` is part ``p`` in segment ``s``.
        With all components on, the engine's input is ``log-mel(Σ parts)``; for HPSS that is
        ``log_mel(y)`` (to float tolerance). For a separator whose parts do not sum to ``y``
        the explained input is the sum of the parts.
    """
    from genrelens import features

    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size < config.n_fft:
        raise ParameterError(
            f"y has shape {y.shape}: expected a mono waveform (n_samples,) of at least "
            f"n_fft={config.n_fft} samples."
        )
    S = np.asarray(features.stft(y, config=config))
    n_frames = S.shape[-1]
    if separator is None:
        parts = hpss(S, kernel_size=kernel_size, margin=margin)
        sep_name = "hpss"
    else:
        raw = separator(y)
        if not isinstance(raw, Mapping) or not raw:
            raise ParameterError(
                f"separator returned {type(raw).__name__}: expected a non-empty dict "
                "{name: waveform or complex STFT}."
            )
        parts = {}
        for name, given in raw.items():
            part = np.asarray(given)
            if np.iscomplexobj(part):
                stft_part = part
            else:
                stft_part = np.asarray(features.stft(part.astype(np.float32), config=config))
            if stft_part.shape != S.shape:
                raise ParameterError(
                    f"separator part {name!r} has STFT shape {stft_part.shape}: expected "
                    f"{S.shape} (same length and framing as y)."
                )
            parts[str(name)] = stft_part
        sep_name = getattr(separator, "__name__", type(separator).__name__)
    bounds = _time_bounds(n_frames, n_segments=n_segments, seconds=seconds, config=config)
    seg_of_frame = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds)).astype(np.int64)
    names, extents = [], []
    for part_name in parts:
        for a, b in zip(bounds[:-1], bounds[1:]):
            e = Extent(*_frame_seconds(config, a, b), config.fmin, config.fmax_hz)
            extents.append(e)
            names.append(f"{part_name} {e.start_s:.2f}-{e.end_s:.2f} s")
    stem_parts = StemParts(
        names=tuple(parts),
        stft=np.stack([np.asarray(p, dtype=np.complex64) for p in parts.values()]),
        segment_of_frame=seg_of_frame,
        n_segments=len(bounds) - 1,
        separator=sep_name,
    )
    params = {"n_segments": len(bounds) - 1, "seconds": seconds, "separator": sep_name}
    if separator is None:
        params.update(kernel_size=kernel_size, margin=margin)
    return Components(
        kind="stems", shape=(config.n_mels, n_frames), names=tuple(names), extents=tuple(extents),
        config=config, stems=stem_parts, params=params,
    )


# ---------------------------------------------------------------------------- helpers


def _resolve_shape(
    config: FeatureConfig | None, n_mels: int | None, n_frames: int | None
) -> tuple[FeatureConfig, int, int]:
    if config is None:
        config = FeatureConfig() if n_mels is None else FeatureConfig(n_mels=int(n_mels))
    n_mels = config.n_mels if n_mels is None else n_mels
    n_frames = config.n_frames if n_frames is None else n_frames
    check_int("n_mels", n_mels, minimum=1)
    check_int("n_frames", n_frames, minimum=1)
    if n_mels != config.n_mels:
        raise ParameterError(
            f"n_mels={n_mels} differs from config.n_mels={config.n_mels}: pass the feature "
            "configuration the input was computed with."
        )
    return config, int(n_mels), int(n_frames)


def _check_map(cmap: np.ndarray, *, n_components: int, shape: tuple[int, int]) -> None:
    if cmap.shape != tuple(shape):
        raise ParameterError(
            f"map has shape {cmap.shape}: expected {tuple(shape)} (n_mels, n_frames)."
        )
    if cmap.size and (cmap.min() < -1 or cmap.max() >= n_components):
        raise ParameterError(
            f"map values run from {cmap.min()} to {cmap.max()}: expected -1 (no component) "
            f"or component ids 0..{n_components - 1}."
        )
    present = np.unique(cmap[cmap >= 0])
    if present.size != n_components:
        missing = sorted(set(range(n_components)) - set(present.tolist()))
        raise ParameterError(
            f"map has no cell for component ids {missing[:10]}: every component needs a cell."
        )


def _even_bounds(n: int, k: int) -> np.ndarray:
    return np.round(np.linspace(0, n, k + 1)).astype(np.int64)


def _time_bounds(
    n_frames: int, *, n_segments: int | None, seconds: float | None, config: FeatureConfig
) -> np.ndarray:
    if seconds is not None:
        if not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ParameterError(f"seconds={seconds!r} is invalid: expected a positive number.")
        step = max(1, int(round(seconds * config.sr / config.hop_length)))
        bounds = np.arange(0, n_frames, step)
        return np.append(bounds, n_frames).astype(np.int64)
    n_segments = check_int("n_segments", n_segments, minimum=1)
    if n_segments > n_frames:
        raise ParameterError(
            f"n_segments={n_segments} is larger than n_frames={n_frames}: expected at most one "
            "segment per frame."
        )
    return _even_bounds(n_frames, n_segments)


def _frame_seconds(config: FeatureConfig, start: int, stop: int) -> tuple[float, float]:
    step = config.hop_length / config.sr
    return float(start * step), float(stop * step)


def _mel_centres(config: FeatureConfig, n_mels: int) -> np.ndarray:
    from genrelens.features import mel_frequencies

    centres = np.asarray(mel_frequencies(config), dtype=np.float64)
    if centres.shape != (n_mels,):  # pragma: no cover - guarded by _resolve_shape
        raise ParameterError(f"config gives {centres.size} mel bins: expected n_mels={n_mels}.")
    return centres


def _band_extent(config: FeatureConfig, n_mels: int, start: int, stop: int) -> tuple[float, float]:
    """Hz extent of mel bins ``[start, stop)``: midpoints between neighbouring centres."""
    c = _mel_centres(config, n_mels)
    edges = np.concatenate([[config.fmin], (c[:-1] + c[1:]) / 2, [config.fmax_hz]])
    return float(edges[start]), float(edges[stop])


def _assign_bands(centres: np.ndarray, edges: np.ndarray) -> np.ndarray:
    band = np.searchsorted(edges, centres, side="right") - 1
    band[centres == edges[-1]] = edges.size - 2
    band[(centres < edges[0]) | (centres > edges[-1])] = -1
    return band.astype(np.int64)
