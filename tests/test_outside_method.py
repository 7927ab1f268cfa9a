"""A method outside the repository needs only wlbench: a package written to a temporary folder, registered
through its own distribution's ``wlbench.methods`` entry point (a ``.dist-info`` on the path, as pip leaves
it), is listed, trained, predicted, scored and run in a grid beside its controls, by the same commands as
the reference baselines."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
import torch
from click.testing import CliRunner
from test_baselines import seg_dataset  # noqa: F401 - fixture reused

from wlbench.cli import main

torch.set_num_threads(1)

PACKAGE = '''
"""A mean-pooled linear tagger: the smallest torch method on wlbench's training framework."""
import torch

from wlbench.methods import ConfigSchema, Option
from wlbench.training import Stage, TorchMethod
from wlbench.training.sampling import batches
from wlbench.training.validation import score_metrics


class MeanLinear(TorchMethod):
    name = "outside-linear"
    description = "Linear layer on time-averaged log-mels (an outside method)"
    options = ConfigSchema({"scale": Option(1.0, kind=float, min=0, doc="logit scale")})

    def build(self, config, n_freq, n_classes):
        return {"linear": torch.nn.Linear(n_freq, n_classes)}

    def forward(self, modules, x):
        return torch.sigmoid(modules["linear"](x.mean(dim=1))), None

    def fit(self, modules, train, valid, run):
        c = run.config
        x, y = torch.from_numpy(train.features), torch.from_numpy(train.labels).float()

        def step(idx):
            p = self.forward(modules, x[idx].to(run.device))[0]
            return torch.nn.functional.binary_cross_entropy(p, y[idx].to(run.device)), len(idx)

        def validate():
            s = run.batched(lambda xb: self.forward(modules, xb)[0], valid.features)
            return score_metrics(s.numpy(), valid.labels, c["threshold"])

        stage = Stage(name="linear", modules=modules,
                      optimizer=torch.optim.Adam(modules["linear"].parameters(), lr=c["lr"]),
                      batches=lambda rng: batches(len(x), c["batch_size"], rng), step=step, validate=validate,
                      selection="map", max_epochs=c["max_epochs"], patience=c["patience"], warmup=c["warmup"])
        return [run.fit(stage)]


METHOD = MeanLinear()
'''

GRID = """
[experiment]
name = "outside"
methods = ["outside-linear"]
seeds = [0, 1]
metrics = ["map"]
test_segments = ["clip"]
controls = ["prior"]
bootstrap = 0

[config]
max_epochs = 3
patience = 3
warmup = 0
batch_size = 6

[[datasets]]
name = "tiny"
path = "{path}"
"""


@pytest.fixture
def outside_package(tmp_path, monkeypatch):
    """A folder on the path (and on PYTHONPATH, for worker processes) holding the package and the
    distribution metadata pip would write for it, with its entry point."""
    site = tmp_path / "site"
    (site / "outside_wl").mkdir(parents=True)
    (site / "outside_wl" / "__init__.py").write_text(textwrap.dedent(PACKAGE))
    info = site / "outside_wl-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: outside-wl\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[wlbench.methods]\noutside-linear = outside_wl:METHOD\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site) + (":" + p if (p := __import__("os").environ.get("PYTHONPATH"))
                                                  else ""))
    yield site
    sys.modules.pop("outside_wl", None)


def test_an_outside_method_is_trained_scored_and_run_in_a_grid(outside_package, seg_dataset, tmp_path):  # noqa: F811
    source = (outside_package / "outside_wl" / "__init__.py").read_text()
    assert "baselines" not in source  # wlbench is all it needs
    listed = CliRunner().invoke(main, ["methods"])
    assert listed.exit_code == 0 and "outside-linear" in listed.output
    run = tmp_path / "run"
    res = CliRunner().invoke(main, ["train", "outside-linear", "--dataset", str(seg_dataset), "--out", str(run),
                                    "--set", "max_epochs=2", "--set", "warmup=0", "--bootstrap", "0", "--quiet"])
    assert res.exit_code == 0, res.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method"] == "outside-linear" and summary["train"]["stages"][0]["stage"] == "linear"
    report = json.loads((run / "reports" / "eval.json").read_text())
    assert 0 <= report["headline"]["map"]["value"] <= 1
    again = CliRunner().invoke(main, ["predict", str(run), "--dataset", str(seg_dataset), "--bootstrap", "0"])
    assert again.exit_code == 0, again.output
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.format(path=seg_dataset))
    res = CliRunner().invoke(main, ["experiment", str(grid), "--out", str(tmp_path / "grid"), "--jobs", "2"])
    assert res.exit_code == 0, res.output
    table = json.loads((tmp_path / "grid" / "outside" / "table.json").read_text())
    (cell,) = table["cells"]
    assert cell["method"] == "outside-linear" and set(cell["results"]["map"]["clip"]["seeds"]) == {"0", "1"}
    assert "prior" in cell["results"]["map"]["clip"]["controls"]
