"""audiozoo's performance suite: ``python -m benchmarks`` (see docs/performance.md).

Every row is measured in one process, ours and the reference alternating, so a shared, busy
machine slows both alike and the ratio stays meaningful; absolute figures are printed beside it.
Not part of the test suite: nothing here asserts a timing.
"""
