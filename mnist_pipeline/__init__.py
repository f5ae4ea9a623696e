"""Library behind the DVC stages, in layers: core (plumbing) <- data <- evaluation <- training.

Commands for people (not stages): `python -m mnist_pipeline.predict`, `python -m mnist_pipeline.readme`.
"""

import os

# OpenMP threads waiting for work sleep instead of spinning. With other work on the cores (a
# second queued job, a browser), spinning threads take the time the working ones need: epochs
# were 11-15x slower beside a second training. OpenMP reads this once, when torch loads it, so it
# is set here, before any torch import; a value already in the environment is kept. It changes
# only how threads wait, never a result (benchmarks/contention.py measures both).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
