"""bench/gpu_check.py's comparison of two runs' numbers (the GPU check; run here CPU against CPU)."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_gpu_check_compares_two_cpu_runs_as_equal():
    """The GPU check's comparison, run CPU against CPU (no GPU here): every gated number agrees."""
    done = subprocess.run([sys.executable, str(BENCH / "gpu_check.py"), "--devices", "cpu,cpu", "--smoke"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "0 out of tolerance" in done.stdout


def test_gpu_check_flags_a_number_out_of_tolerance():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", BENCH / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)

    reference = {
        "raw": {"structure": {"knn_accuracy_10": 0.97}},
        "latent": {"structure": {"knn_accuracy_10": 0.96, "probe_accuracy": 0.90}, "recon_mse": 0.0100,
                   "distribution": {"gaussianity": {"pooled": {"mmd2": 0.5}}}},
    }
    other = {
        "raw": {"structure": {"knn_accuracy_10": 0.9701}},  # raw never touches the GPU: must be equal
        "latent": {"structure": {"knn_accuracy_10": 0.955, "probe_accuracy": 0.87}, "recon_mse": 0.0105,
                   "distribution": {"gaussianity": {"pooled": {"mmd2": 0.9}}}},  # MMD² is reported, not gated
    }
    verdicts = {(r["representation"], r["metric"]): r["ok"] for r in gpu_check.compare(reference, other)}
    assert verdicts == {
        ("raw", "structure.knn_accuracy_10"): False,
        ("latent", "structure.knn_accuracy_10"): True,
        ("latent", "structure.probe_accuracy"): False,
        ("latent", "recon_mse"): True,
        ("latent", "distribution.gaussianity.pooled.mmd2"): None,
    }
