"""Progress where there is no terminal: with stdout and stderr sent to a file, long work prints
plain lines (one per epoch, per map and per evaluated representation), not a bar drawn at the end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from conftest import FAST


def test_run_redirected_to_a_file_prints_a_line_per_epoch_map_and_representation(tmp_path):
    out, log = tmp_path / "outputs", tmp_path / "aelat.log"
    args = [sys.executable, "-m", "aelat.cli", "run", *FAST, "--method", "pca", "--of", "latent", f"output_dir={out}"]
    with open(log, "w") as fh:
        code = subprocess.run(args, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              env={**os.environ, "TERM": "xterm-256color"}, timeout=600).returncode
    text = log.read_text()
    assert code == 0, text
    assert not re.search(r"━+\s+\d+/\d+", text), text  # no progress bar (rich draws "━━━━ 3/3")

    epochs = re.findall(r"^train (\S+): epoch (\d+)/3 loss train [\d.]+ test [\d.]+ \([\d.]+ s\)$", text, re.M)
    assert [int(e) for _, e in epochs] == [1, 2, 3], text
    assert re.search(r"^train \S+: done in [\d.]+ s$", text, re.M)
    assert re.search(r"^pca of latent, 1347 points: started$", text, re.M)
    assert re.search(r"^pca of latent, 1347 points: done in [\d.]+ s$", text, re.M)

    scored = json.loads((out / "latest" / "metrics.json").read_text())["representations"]
    # one step per representation, then the paired comparisons between them
    lines = re.findall(r"^evaluate: step (\d+)/(\d+) (.+) \([\d.]+ s\)$", text, re.M)
    assert [name for _, _, name in lines] == [*scored, "paired comparisons"], text
    assert [(int(i), int(n)) for i, n, _ in lines] == [(i + 1, len(scored) + 1) for i in range(len(scored) + 1)]
    # every line arrives whole, as it happens: the epochs come before the maps, the maps before evaluate
    assert text.index("epoch 3/3") < text.index("pca of latent") < text.index("evaluate: step 1/")
