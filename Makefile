# Two commands do all set-up on a fresh machine: `make run` (the pipeline on the offline digits
# dataset) and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch and torchvision first, pinned: on this project's machines pip takes them from local disk,
# and installing them before aelat stops a resolver from pulling another torch build.
TORCH := torch==2.14.1 torchvision==0.29.1

.PHONY: venv run test test-fast lint bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: venv
	$(BIN)/aelat run

# The test files in parallel processes, one per core (at most 4, each kept to its share of the cores
# by tests/conftest.py); a file's tests run one after another in one process (they share trained
# fixtures; test_slurm.py's share the cluster).
# `$(BIN)/python -m pytest tests/FILE.py` runs a part in this process.
test: venv lint
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile

# Static checks (settings in pyproject.toml): ruff on the code and tests, mypy on the package.
lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test-fast: venv
	$(BIN)/python -m pytest -m "not slow"

# Benchmarks on real MNIST (../shared/datasets/mnist.npz), about 50 min on 2 quiet cores (t-SNE maps
# of 60,000 points and the two latent-size sweeps are most of it; the snapshot overhead, six 10-epoch
# trainings, 4 min); results are appended to bench/RESULTS.md. bench_pipeline keeps its run (latent 16,
# 10 epochs) in $(BENCH_RUN): bench_evaluate adds the maps it lacks and scores it, bench_embed maps its
# latent, bench_torchdr maps 2,000 and 5,000 of its points with torchdr and openTSNE, bench_contention maps
# and scores it again beside busy processes. bench_sweep runs a
# latent-size sweep with the code of today and of before the map cache (on the first 20,000 points of
# MNIST; --n 0 for all).
# bench/gpu_check.sh is the GPU check (a machine with CUDA; not part of this target).
BENCH_RUN := outputs/bench
bench: venv
	$(BIN)/python bench/bench_train.py
	$(BIN)/python bench/bench_snapshots.py
	rm -rf $(BENCH_RUN)
	$(BIN)/python bench/bench_pipeline.py --keep $(BENCH_RUN)
	$(BIN)/python bench/bench_evaluate.py --run $(BENCH_RUN)/latest
	$(BIN)/python bench/bench_embed.py --run $(BENCH_RUN)/latest
	$(BIN)/python bench/bench_torchdr.py --run $(BENCH_RUN)/latest
	$(BIN)/python bench/bench_contention.py --run $(BENCH_RUN)/latest
	$(BIN)/python bench/bench_sweep.py

clean:
	rm -rf outputs/*/ outputs/latest outputs/.cache outputs/.multirun .pytest_cache .mypy_cache .ruff_cache
