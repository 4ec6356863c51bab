"""scripts/profile_chapter.py: a notebook run with a ledger, its time split by vaelib function."""

import importlib.util
import json
import pathlib

import nbformat

SCRIPT = pathlib.Path(__file__).parents[1] / "scripts" / "profile_chapter.py"
spec = importlib.util.spec_from_file_location("profile_chapter", SCRIPT)
profile_chapter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(profile_chapter)

CELLS = [
    "import numpy as np\nimport tensorflow as tf\nimport vaelib",
    "# a markdown cell sits before this one",
    """\
x = np.random.default_rng(0).integers(0, 256, (40, 28, 28), dtype=np.uint8)
model = vaelib.VAE(vaelib.VAEConfig(hidden_sizes=(8,), latent_size=2))
data = vaelib.make_dataset(x, batch_size=20, binarization="dynamic", seed=0)
config = vaelib.FitConfig(epochs=3, progress=False, jit_compile=False)
history = vaelib.fit(model, tf.keras.optimizers.Adam(1e-3), vaelib.vae_loss, data, config)""",
    "bound = vaelib.iwae_bound(model, tf.zeros([4, 784]), 3, seed=0)",
]


def test_a_notebook_profiled_end_to_end(tmp_path):
    nb = nbformat.v4.new_notebook()
    for i, source in enumerate(CELLS):
        make = nbformat.v4.new_markdown_cell if i == 1 else nbformat.v4.new_code_cell
        nb.cells.append(make(source))
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    before = path.read_text()
    assert profile_chapter.main([str(path), "--quick", "--json-dir", str(tmp_path / "out")]) == 0
    assert path.read_text() == before  # the notebook itself is not changed
    p = json.loads((tmp_path / "out" / "chapter.json").read_text())
    assert p["quick"] and [c["index"] for c in p["cells"]] == [0, 2, 3]  # chapter's indices
    names = [c["name"] for c in p["calls"]]
    assert names.count("vaelib.training.train.fit") == 1
    assert "vaelib.evaluation.marginal_likelihood.iwae_bound" in names
    fit = next(c for c in p["calls"] if c["name"].endswith(".fit"))
    assert len(fit["epochs"]) == 3 and fit["steps"] == 6
    # each call lies inside the cell that made it
    fit_cell = next(c for c in p["cells"] if c["index"] == 2)
    assert fit_cell["start"] <= fit["started"] < fit_cell["start"] + fit_cell["seconds"]
    text = profile_chapter.summary(p)
    assert "QUICK mode" in text and "fit" in text and "6 steps" in text
    assert "cell   2" in text


def test_the_split_adds_up():
    calls = [
        {"name": "vaelib.training.train.fit", "started": 1.0, "seconds": 10.0,
         "epochs": [4.0, 2.0, 2.0], "steps": 30},
        {"name": "vaelib.training.train.fit", "started": 20.0, "seconds": 5.0,
         "epochs": [5.0], "steps": 10},
        {"name": "vaelib.evaluation.ais.ais", "started": 30.0, "seconds": 7.0,
         "epochs": [], "steps": 0},
    ]  # fmt: skip
    split = profile_chapter._split(calls)
    assert list(split) == ["fit", "ais"]  # largest first
    assert split["fit"] == {"calls": 2, "seconds": 15.0, "set_up": 2.0, "steps": 40}
    assert split["ais"]["set_up"] == 0 and split["ais"]["steps"] == 0
    line = profile_chapter._line("fit", split["fit"])
    assert "set-up 2.0 s" in line and "training 13.0 s" in line and "40 steps" in line
