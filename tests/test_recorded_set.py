"""tools/build_recorded_set.py: the pure parts (excerpt choice, levels, slot order, the package table).

Synthetic audio at a low sample rate keeps these fast; no package has to be installed.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import build_recorded_set as brs

SR = 1000


def track(*parts: tuple[str, float]) -> np.ndarray:
    """Concatenated ("music" | "silence", seconds) parts; music is a loud noise-modulated tone."""
    rng = np.random.default_rng(0)
    out = []
    for kind, seconds in parts:
        n = int(seconds * SR)
        t = np.arange(n) / SR
        out.append(0.5 * np.sin(2 * np.pi * 110 * t) * (0.8 + 0.2 * rng.random(n)) if kind == "music"
                   else np.zeros(n))
    return np.concatenate(out)


def test_excerpt_is_30_s_seeded_and_clear_of_the_silence_and_the_fade():
    y = track(("silence", 8), ("music", 100), ("silence", 5))
    start, window = brs.pick_excerpt(y, SR, random.Random("a"))
    assert len(window) == 30 * SR
    assert 8 + brs.HEAD_GUARD_S <= start <= 108 - brs.TAIL_GUARD_S - 30
    np.testing.assert_array_equal(window, y[round(start * SR):round(start * SR) + 30 * SR])
    assert brs.pick_excerpt(y, SR, random.Random("a"))[0] == start
    starts = {brs.pick_excerpt(y, SR, random.Random(s))[0] for s in "bcdefg"}
    assert len(starts) > 3


@pytest.mark.parametrize("parts, why", [
    ((("music", 34),), "shorter than 35 s"),
    ((("silence", 60),), "silent"),
    ((("silence", 40), ("music", 30), ("silence", 40)), "mostly silent"),
    ((("music", 40),), "no 30 s of music between the opening and the final fade"),
    (tuple(p for _ in range(20) for p in (("music", 4), ("silence", 1))), "no 30 s window without a gap"),
])
def test_tracks_without_a_clean_window_are_skipped_with_the_reason(parts, why):
    got = brs.pick_excerpt(track(*parts), SR, random.Random(0))
    assert isinstance(got, str) and got.startswith(why)


def test_finish_peaks_at_minus_1_dbfs_and_fades_both_ends():
    window = np.random.default_rng(1).normal(0, 0.1, 30 * SR)
    out = brs.finish(window.copy(), SR)
    assert out.dtype == np.float32
    assert np.max(np.abs(out)) == pytest.approx(10 ** (-1 / 20), rel=1e-5)
    assert out[0] == 0 and out[-1] == 0
    middle = slice(int(brs.FADE_IN_S * SR), -int(brs.FADE_OUT_S * SR))
    np.testing.assert_allclose(out[middle] / window[middle], out[SR] / window[SR], rtol=1e-5)


def test_slots_keep_each_packages_share_in_any_prefix():
    takes = [p.take for p in brs.PACKAGES]
    order = brs.slot_order(takes)
    assert sum(takes) == 64 and Counter(order) == dict(enumerate(takes))
    half = Counter(order[:32])
    assert all(abs(half[i] - t / 2) <= 1 for i, t in enumerate(takes))


def test_the_held_back_music_is_never_a_source():
    assert not {p.name for p in brs.PACKAGES} & set(brs.EXCLUDED)
    ufoai = next(p for p in brs.PACKAGES if p.name == "ufoai-music")
    # UFO:AI's GPL-2 group names "Nexuiz GPLed Data" among its holders: none of it is used
    for member in ("music/PsymongN1.ogg", "music/ufo1.ogg", "music/space.ogg", "music/dawn.ogg"):
        assert brs.group_of(ufoai, member) is None
    assert brs.group_of(ufoai, "music/van_theme.ogg").licence == "CC-BY-3.0"


def test_the_first_matching_group_gives_the_licence():
    widelands = next(p for p in brs.PACKAGES if p.name == "widelands-data")
    assert brs.group_of(widelands, "ingame_24.ogg").licence == "CC-BY-SA-3.0"
    assert brs.group_of(widelands, "ingame_05.ogg").licence == "GPL-2+"
    assert brs.group_of(widelands, "intro.ogg") is None
