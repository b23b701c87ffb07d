import os as _os

# Idle OpenMP threads (torch, scikit-learn and openTSNE each bring libgomp) must sleep, not spin: a
# thread spinning for a descheduled sibling burns the core that sibling needs. A runtime reads this
# once, as it loads, so it is set here, before aelat imports any of them; a value the user set is
# kept (see aelat.runtime).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
