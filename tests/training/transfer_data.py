"""Data of the transfer-learning tests: tones vs gated noise at 16 kHz, a split by class."""

import numpy as np

SR = 16000
SECONDS = 3.0  # 188 frames: one 187-frame patch per track


def _steady(i, t):
    return 0.3 * np.sin(2 * np.pi * (220 + 60 * i) * t) + 0.2 * np.sin(2 * np.pi * 660 * t)


def _tremolo(i, t):  # distinct enough not to be taken for re-encoded copies of each other
    return 0.3 * np.sin(2 * np.pi * 220 * 1.5**i * t) * (1 + 0.8 * np.sin(2 * np.pi * (1 + 2 * i) * t))


def tone_noise_folder(root, *, n_per_class, tremolo=False):
    """``root/tones/tone{i}.wav`` (steady or tremolo tones) and ``root/noise/noise{i}.wav``
    (white noise gated at 4 + i Hz), 3 s at 16 kHz each; returns ``root``."""
    import soundfile as sf

    t = np.arange(int(SECONDS * SR)) / SR
    tone = _tremolo if tremolo else _steady
    for i in range(n_per_class):
        rng = np.random.default_rng(i)
        gate = (np.sin(2 * np.pi * (4 + i) * t) > 0.3).astype(float)
        for path, y in ((root / "tones" / f"tone{i}.wav", tone(i, t)),
                        (root / "noise" / f"noise{i}.wav",
                         0.4 * gate * rng.standard_normal(t.size))):
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, y.astype(np.float32), SR)
    return root


def split_by_class(folder, *, n_train):
    """A split of ``folder``'s dataset: per class, the first ``n_train`` tracks train, the
    next one validates, the one after tests."""
    from genrelens.data import open_dataset
    from genrelens.data.splits import Split

    ds = open_dataset(folder)
    by_class = {c: [t.track_id for t in ds.tracks if t.label == c] for c in ds.class_names}
    return Split(name="test", train=tuple(v for c in by_class for v in by_class[c][:n_train]),
                 valid=tuple(by_class[c][n_train] for c in by_class),
                 test=tuple(by_class[c][n_train + 1] for c in by_class))
