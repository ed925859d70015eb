import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from genrelens import display  # noqa: E402
from genrelens.config import FeatureConfig  # noqa: E402
from genrelens.errors import ParameterError  # noqa: E402
from genrelens.explain import components as C  # noqa: E402
from genrelens.explain.explanation import Explanation  # noqa: E402
from genrelens.explain.html import explanation_html  # noqa: E402
from genrelens.features import log_mel  # noqa: E402

CONFIG = FeatureConfig(
    sr=8000, n_fft=512, hop_length=128, n_mels=32, segment_seconds=1.0, segment_hop_seconds=1.0
)
NAMES = ("rock", "<script>alert(1)</script>", "jazz & blues")


@pytest.fixture(autouse=True)
def _no_show_and_close(monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() must never be called"))
    yield
    plt.close("all")


def _y() -> np.ndarray:
    t = np.arange(CONFIG.segment_samples) / CONFIG.sr
    return (
        0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    ).astype(np.float32)


def _exp(kind: str) -> Explanation:
    y = _y()
    comps = {
        "time": lambda: C.time_segments(config=CONFIG, n_segments=5),
        "frequency": lambda: C.frequency_bands(config=CONFIG, n_bands=4),
        "tf_grid": lambda: C.tf_grid(config=CONFIG, n_time=4, n_freq=4),
        "stems": lambda: C.stems(y, config=CONFIG, n_segments=3),
        "dense": lambda: None,
    }[kind]()
    logmel = log_mel(y, config=CONFIG)
    rng = np.random.default_rng(1)
    shape = (3, *logmel.shape) if comps is None else (3, comps.n_components)
    return Explanation(
        method="ig" if comps is None else "lime",
        scores=rng.normal(size=shape),
        prediction=np.array([0.2, 0.5, 0.3]),
        logmel=logmel,
        components=comps,
        class_names=NAMES,
        params={"config": CONFIG.to_dict()} if comps is None else {},
    )


def test_temporal_bars_are_the_time_scores():
    exp = _exp("time")
    fig = display.plot_temporal(exp, target=0)
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights, exp.scores[0])
    assert "rock" in fig.axes[0].get_title()


def test_frequency_bars_are_the_band_scores():
    exp = _exp("frequency")
    fig = display.plot_frequency(exp, target="jazz & blues")
    widths = [p.get_width() for p in fig.axes[0].patches]
    np.testing.assert_allclose(widths, exp.scores[2])


def test_stems_heat_map_is_parts_by_segments():
    exp = _exp("stems")
    fig = display.plot_stems(exp, target=1)
    image = fig.axes[0].get_images()[0].get_array()
    np.testing.assert_allclose(image, exp.scores[1].reshape(3, 3))
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "harmonic",
        "percussive",
        "residual",
    ]
    temporal = display.plot_temporal(exp, target=1)
    np.testing.assert_allclose(
        [p.get_height() for p in temporal.axes[0].patches], exp.scores[1].reshape(3, 3).sum(0)
    )


@pytest.mark.parametrize("kind", ["time", "frequency", "tf_grid", "dense"])
def test_overlay_shows_the_score_map(kind):
    exp = _exp(kind)
    fig = display.plot_explanation_overlay(exp)  # predicted class
    heat = fig.axes[0].get_images()[1].get_array()
    # per-component relevance: each cell carries its component's score (the bars' unit)
    expected = exp.to_map(None, spread=kind == "dense")
    np.testing.assert_allclose(heat.filled(0), expected)
    if kind != "dense":
        assert set(np.unique(heat.compressed())) <= set(exp.scores[exp.predicted_class])
    assert "<script>" in fig.axes[0].get_title()  # matplotlib text, not HTML


def test_overlay_and_bars_share_one_unit_and_scale():
    exp = _exp("time")
    limit = 2 * np.abs(exp.scores).max()
    overlay = display.plot_explanation_overlay(exp, target=1, limit=limit)
    bars = display.plot_temporal(exp, target=1, limit=limit)
    assert overlay.axes[0].get_images()[1].get_clim() == (-limit, limit)
    assert bars.axes[0].get_ylim() == pytest.approx((-1.05 * limit, 1.05 * limit))
    assert overlay.axes[1].get_ylabel() == bars.axes[0].get_ylabel() == "component score"
    heat = overlay.axes[0].get_images()[1].get_array()
    np.testing.assert_allclose(np.unique(heat.compressed()), np.sort(exp.scores[1]))


def test_class_overlays_share_one_colour_scale():
    exp = _exp("tf_grid")
    scores = exp.scores.copy()
    scores[0] *= 1e-3  # a class with almost no evidence must look almost blank
    exp = Explanation(method="lime", scores=scores, prediction=exp.prediction, logmel=exp.logmel,
                      components=exp.components, class_names=NAMES)
    grid = display.plot_class_overlays(exp)
    limits = {a.get_images()[1].get_clim() for a in grid.axes if len(a.get_images()) == 2}
    peak = float(np.abs(scores).max())
    assert limits == {(-peak, peak)}


def test_dense_profiles_sum_the_map_in_at_most_max_bars_groups():
    exp = _exp("dense")
    heights = [p.get_height() for p in display.plot_temporal(exp, target=2).axes[0].patches]
    frames = np.array_split(exp.scores[2].sum(0), display.MAX_BARS)
    np.testing.assert_allclose(heights, [f.sum() for f in frames])
    fig = display.plot_frequency(exp, target=2)
    widths = [p.get_width() for p in fig.axes[0].patches]
    bands = np.array_split(exp.scores[2].sum(1), display.MAX_BARS)
    np.testing.assert_allclose(widths, [b.sum() for b in bands])
    assert np.sum(widths) == pytest.approx(exp.scores[2].sum())
    assert display.explanation_config(exp) == CONFIG


def test_grid_profiles_sum_the_components_of_each_band_and_time_span():
    exp = _exp("tf_grid")  # 4 time spans x 4 bands
    comps = exp.components
    values, labels = display.profile(exp, target=1, along="frequency")
    bands = sorted({(e.low_hz, e.high_hz) for e in comps.extents})
    expected = [sum(s for s, e in zip(exp.scores[1], comps.extents)
                    if (e.low_hz, e.high_hz) == b) for b in bands]
    np.testing.assert_allclose(values, expected)
    assert labels == [f"{lo:.0f}-{hi:.0f} Hz" for lo, hi in bands]
    fig = display.plot_frequency(exp, target=1)
    assert len(fig.axes[0].patches) == 4
    assert fig.axes[0].get_xlabel() == "summed component score"  # 4 patches per band
    assert fig.get_size_inches()[1] < 3  # not one bar per mel band in a metre-high figure
    times, _ = display.profile(exp, target=1, along="time")
    assert times.shape == (4,) and times.sum() == pytest.approx(exp.scores[1].sum())
    with pytest.raises(ParameterError, match="along='pitch'"):
        display.profile(exp, along="pitch")


def test_plots_draw_on_given_axes_and_all_classes():
    exp = _exp("tf_grid")
    fig, axes = plt.subplots(1, 3)
    for ax, kind in zip(axes, ["overlay", "temporal", "frequency"]):
        shown = display.ExplanationDisplay.from_explanation(exp, kind=kind, ax=ax)
        assert shown.figure_ is fig and shown.ax_ is ax
    grid = display.plot_class_overlays(exp)
    assert len([a for a in grid.axes if a.get_images()]) == 3
    stems = display.ExplanationDisplay(_exp("stems"), target=0).plot()
    assert stems.ax_.get_images()[0].get_array().shape == (3, 3)  # "auto" picks the stems map


def test_errors():
    with pytest.raises(ParameterError, match="stem components"):
        display.plot_frequency(_exp("stems"))
    with pytest.raises(ParameterError, match="needs stem"):
        display.plot_stems(_exp("time"))
    with pytest.raises(ParameterError, match="kind='pie'"):
        display.ExplanationDisplay(_exp("time")).plot(kind="pie")


def test_save_png_is_atomic(tmp_path):
    path = display.save_png(display.plot_temporal(_exp("time")), tmp_path / "out" / "t.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["t.png"]


def test_html_escapes_labels_and_embeds_media():
    exp = _exp("time")
    text = explanation_html(exp, target=1)
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "data:image/png;base64," in text and "<audio" not in text
    with_audio = explanation_html(exp, y=_y(), target=1, k=2)
    assert with_audio.count("data:audio/wav;base64,") == 2
    stems_html = _exp("stems")._repr_html_()  # stems carry their audio
    assert stems_html.count("<audio") == 2  # the predicted class is the <script> name:
    assert "&lt;script&gt;" in stems_html and "<script>" not in stems_html
    assert "data:image/png" in _exp("dense")._repr_html_()
