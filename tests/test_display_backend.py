"""Plotting leaves the user's matplotlib backend alone (Jupyter's inline plots keep working).

Checked in a fresh interpreter whose backend is chosen first (here "svg"), as a notebook's is.
"""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    import matplotlib
    matplotlib.use("svg")
    import numpy as np
    import genrelens
    from genrelens import display
    from genrelens.config import FeatureConfig
    from genrelens.explain import Explanation, components

    config = FeatureConfig(n_mels=16)
    grid = components.tf_grid(n_mels=16, n_frames=20, n_time=4, n_freq=2, config=config)
    rng = np.random.default_rng(0)
    exp = Explanation(method="kernel_shap", scores=rng.normal(size=(2, grid.n_components)),
                      prediction=np.array([0.3, 0.7]), logmel=rng.normal(-40, 10, (16, 20)),
                      components=grid, class_names=("blues", "metal"))
    html = exp._repr_html_()
    figures = [display.ExplanationDisplay(exp).plot().figure_,
               display.plot_class_overlays(exp),
               display.plot_history({"train_loss": [1.0, 0.5], "valid_acc": [0.4, 0.6]})]
    sizes = [len(display.png_bytes(fig)) for fig in figures]
    print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules,
          html.count("data:image/png;base64,") >= 1, min(sizes) > 1000)

    import matplotlib.pyplot as plt  # a figure the user made with pyplot, drawn on via ax
    fig, ax = plt.subplots()
    display.plot_logmel(exp.logmel, sr=config.sr, hop_length=config.hop_length, ax=ax)
    display.png_bytes(fig)
    print(matplotlib.get_backend(), plt.get_fignums())
""")


def test_plotting_keeps_the_backend_and_leaves_pyplot_alone():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "MPLBACKEND": ""}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()[-2:]
    assert first == "svg False True True"  # pyplot never imported, figures drawn
    assert second == "svg []"  # png_bytes closed the user's pyplot figure
