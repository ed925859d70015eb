"""Finding a dataset in a folder: :func:`open_dataset`, the one entry over the layout readers.

A dataset is found from the folder the user names. Layouts tried, in order:

1. GTZAN, original layout: ``genres/<genre>/<genre>.000NN.{au,wav}``
   (:data:`~genrelens.data.gtzan.GTZAN_GENRES`), layout ``"gtzan-original"``;
2. GTZAN, Kaggle layout: ``Data/genres_original/<genre>/<genre>.000NN.wav``, layout
   ``"gtzan-kaggle"``;

   each looked for in the folder itself, its ``genres/``, its ``Data/genres_original/``, and the
   same one level deeper (``DIR/*/genres``, ...);
3. FMA (:mod:`genrelens.data.fma`): an audio folder ``fma_small``, ``fma_medium``,
   ``fma_large`` or ``fma_full`` (``NNN/NNNNNN.mp3``) with ``fma_metadata/tracks.csv`` beside
   it, or the folder holding both; layout ``"fma"``;
4. any class-per-folder collection ``DIR/<label>/**/*.{wav,flac,mp3,opus,...}`` (every ending of
   :data:`~genrelens.formats.AUDIO_EXTENSIONS`), layout
   ``"folder"`` (your own music).

The readers import :mod:`genrelens.data.dataset` for the types they build; this module imports
the readers, so no module imports back up (no import circle).
"""

from __future__ import annotations

import os
from pathlib import Path

from genrelens.data.dataset import Dataset
from genrelens.data.fma import find_fma
from genrelens.data.folder import open_folder
from genrelens.data.gtzan import find_gtzan
from genrelens.errors import DatasetError
from genrelens.formats import AUDIO_EXTENSIONS

__all__ = ["open_dataset"]


def open_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Find and list the dataset in or below ``path``.

    Parameters
    ----------
    path : path-like
        A GTZAN folder (any of: the ``genres`` folder, its parent, the Kaggle download's root,
        its ``Data`` folder, or a folder one level above those), an FMA audio folder
        (``fma_small``, ``fma_medium``, ``fma_large``, ``fma_full``) with ``fma_metadata``
        beside it or the folder holding both, or a class-per-folder collection
        ``path/<label>/...``.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        If ``path`` is not a folder or no layout finds any audio; the message lists the
        layouts and folders tried. For FMA also if ``path`` holds several audio folders, or
        ``tracks.csv`` is missing or malformed (see :func:`genrelens.data.fma.find_fma`).
    """
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder; name the folder that holds the dataset.")
    found = find_gtzan(root)
    if found is not None:
        return found
    found = find_fma(root)
    if found is not None:
        return found
    found = open_folder(root)
    if found is not None:
        return found
    raise DatasetError(
        f"{root}: no usable dataset found. Tried GTZAN (genres/<genre>/<genre>.000NN.au|wav in "
        "the folder itself, its genres/, its Data/genres_original/ and one level deeper), FMA "
        "(an audio folder fma_small|fma_medium|fma_large|fma_full with fma_metadata/ beside it, "
        "or their parent) and a class-per-folder collection "
        f"({root.name}/<label>/*{{{','.join(AUDIO_EXTENSIONS)}}}); none holds audio files."
    )
