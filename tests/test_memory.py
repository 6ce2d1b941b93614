"""The footprint a probe measures: tensors held at once, and attention's hidden scores."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from audiozoo.memory import ATTENTION_COPIES, Footprint, free_bytes, human
from audiozoo.runs.sampling import Growth

MB = 1 << 20


def test_the_peak_counts_tensors_held_at_once_and_forgets_freed_ones():
    with Footprint() as counted:
        a = torch.ones(MB // 4)  # 1 MB of float32
        b = a + 1
        del a
        c = b * 2  # a is freed: two held at once, never three
        view = c[:10]  # a view holds nothing new
        del b, c, view
        d = torch.zeros(MB // 2)
    assert counted.peak == 2 * MB and counted.work == 5 * MB and counted.scores == 0
    del d


@pytest.mark.parametrize("laid_out", ["frames last", "contiguous"])
def test_attention_counts_the_scores_its_math_path_holds(laid_out):
    heads, frames, width = 2, 256, 16
    x = torch.randn(1, heads, width, frames).transpose(-1, -2)  # as the U-Net's attention lays it out
    if laid_out == "contiguous":
        x = x.contiguous()
    with torch.inference_mode(), Footprint() as counted:
        F.scaled_dot_product_attention(x, x, x)
    fused = torch._fused_sdp_choice(x, x, x) != 0
    assert counted.scores == (0 if fused else int(ATTENTION_COPIES * heads * frames * frames * 4))
    assert laid_out == "contiguous" or not fused  # frames last: the math path (measured: quadratic RSS)


def test_growth_finds_the_longest_length_within_a_budget():
    linear, square = Growth(100.0, 0.0), Growth(100.0, 50.0)
    assert linear.longest(400.0) == pytest.approx(4.0) and not linear.square_leads(10)
    assert square(square.longest(1000.0)) == pytest.approx(1000.0) and square.square_leads(3)


def test_free_memory_can_be_capped_and_is_said_as_people_read_it(monkeypatch):
    monkeypatch.setenv("AUDIOZOO_MEMORY_LIMIT", "2.5e9")
    assert free_bytes(torch.device("cpu")) == 2_500_000_000
    assert human(2.5e9) == "2.5 GB" and human(320e6) == "320 MB"
