"""audiozoo's performance suite: ``python -m benchmarks`` (see docs/performance.md).

Every row is measured in one process, ours and the reference alternating, so a shared, busy
machine slows both alike and the ratio stays meaningful; absolute figures are printed beside it.
Not part of the test suite: nothing here asserts a timing.
"""

import os

# After each call, OpenBLAS's idle threads (librosa's matrix products go through numpy) spin
# for a while and take the cores from whatever is timed next: the next audiozoo call ran 2×
# slower right after librosa than alone. A short timeout (2^4 cycles) lets each side be timed
# without the other's leftovers. It must be set before numpy loads, hence here.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
