"""The year's baseline run in one environment, for :func:`benchmark.organizer.fullenv.check`:
``python -m benchmark.organizer.envcheck YEAR FOLDER TAG`` (under that environment's Python).

The harness's own run (``TAG`` harness) saves the weights first: the official checkpoint where the
project's model zoo has it, else seeded random ones; every other environment loads the same weights.
Each run writes ``TAG.npy`` (the output for the preflight's smooth input) and ``TAG.json`` (its
complexity figures, data range and torch build).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

import models
from benchmark.measure.complexity import measure
from benchmark.organizer.preflight import smooth_image

FIGURES = ("params", "flops", "activations", "conv", "fvcore_flops", "ptflops_macs")


def main(argv: list[str]) -> int:
    year, folder, tag = int(argv[0]), Path(argv[1]), argv[2]
    spec = models.get_spec(0, year)
    weights = folder / "weights.pt"
    if not weights.is_file():
        if tag != "harness":
            print(f"{weights}: missing; the harness's run saves it", file=sys.stderr)
            return 1
        checkpoint = models.fetch_checkpoint(spec, models.spec.MODEL_ZOO, offline=True)
        torch.manual_seed(0)
        model = models.create_model(0, checkpoint, "cpu", year=year)
        torch.save(model.state_dict(), weights)
    model = models.create_model(0, weights, "cpu", year=year)
    with torch.inference_mode():
        out = model(smooth_image(spec.data_range))
    np.save(folder / f"{tag}.npy", out.float().numpy())
    figures = measure(model)
    (folder / f"{tag}.json").write_text(json.dumps({
        "figures": {k: figures[k] for k in FIGURES}, "data_range": spec.data_range, "torch": torch.__version__,
        "cuda": torch.version.cuda, "baseline": spec.display_name}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
