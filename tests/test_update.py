"""The trainer's update: what happens between a model's loss and its parameters, for every model alike."""

from __future__ import annotations

import math

import pytest
import torch

from audiozoo.errors import AudiozooError
from audiozoo.model import Batch, GenerativeModel
from audiozoo.train.ema import EMA
from audiozoo.settings import TrainConfig
from audiozoo.speed import fused_optimizer
from audiozoo.train.update import Updater, lr_factor


class Line(GenerativeModel):
    """One linear layer fitted by SGD: each update is exactly -lr × the (clipped) gradient."""

    name = "line"

    def __init__(self, optimizers: int = 1, manual: bool = False) -> None:
        super().__init__((3, 4))
        self.layer = torch.nn.Linear(4, 4)
        self.count, self.manual_optimization = optimizers, manual
        self.seen_dtype = None

    def configure_optimizers(self):
        return {f"sgd{i}": torch.optim.SGD(self.parameters(), lr=0.1) for i in range(self.count)}

    def training_step(self, batch, update):
        out = self.layer(batch.x)
        self.seen_dtype = out.dtype
        loss = (out - 100.0).square().mean()
        if self.manual_optimization:
            update(loss, "sgd0")
        return {"loss": loss}

    def sample(self, n, generator=None, frames=None, options=None):
        return torch.zeros(n, *self.shape)


def batch() -> Batch:
    return Batch(torch.ones(2, 3, 4), torch.zeros(2, 10), None)


def weights(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_clipping_bounds_each_update():
    model = Line()
    before = weights(model)
    Updater(model, TrainConfig(grad_clip=0.5), total_steps=1).step(batch())
    assert (weights(model) - before).norm() == pytest.approx(0.1 * 0.5, rel=1e-4)  # lr × clip: the norm was far larger
    unclipped = Line()
    before = weights(unclipped)
    Updater(unclipped, TrainConfig(), total_steps=1).step(batch())
    assert (weights(unclipped) - before).norm() > 10


def test_warmup_then_cosine_decay():
    factor = lr_factor(TrainConfig(schedule="cosine", warmup_steps=4), total_steps=14)
    assert [factor(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert factor(9) == pytest.approx(0.5) and factor(14) == pytest.approx(0.0) and factor(99) == pytest.approx(0.0)
    model = Line()
    updater = Updater(model, TrainConfig(schedule="cosine", warmup_steps=2), total_steps=6)
    rates = []
    for _ in range(6):
        rates.append(updater.lr)
        updater.step(batch())
    assert rates[:3] == pytest.approx([0.05, 0.1, 0.1]) and rates[3] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_factor(TrainConfig(), total_steps=10)(5) == 1.0  # the default: the optimizer's own rate


def test_ema_warms_up_and_swaps_back_exactly():
    model = Line()
    ema = EMA(model, decay=0.999)
    start = weights(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model)  # decay (1 + 1) / (10 + 1): the average moves most of the way at once
    trained = weights(model)
    assert torch.allclose(ema.state_dict()["weights"]["layer.bias"], model.layer.bias.detach() - 2 / 11, atol=1e-6)
    with ema.applied(model):
        assert torch.allclose(weights(model), start + 9 / 11, atol=1e-6)
    assert torch.equal(weights(model), trained)
    restored = EMA(Line(), 0.999)
    restored.load_state_dict(ema.state_dict())
    assert restored.updates == 1 and all(torch.equal(restored.weights[k], v) for k, v in ema.weights.items())


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_precision_autocasts_the_step(precision, dtype):
    model = Line()
    updater = Updater(model, TrainConfig(precision=precision), total_steps=1)
    losses = updater.step(batch())
    assert model.seen_dtype == dtype and torch.isfinite(losses["loss"]) and losses["loss"].dtype == torch.float32
    assert updater.scaler.is_enabled() == (precision == "fp16")
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_several_optimizers_need_manual_optimization():
    with pytest.raises(AudiozooError, match="2 optimizers: it must set manual_optimization"):
        Updater(Line(optimizers=2), TrainConfig(), total_steps=1).step(batch())
    manual = Line(optimizers=2, manual=True)
    before = weights(manual)
    Updater(manual, TrainConfig(), total_steps=1).step(batch())
    assert not torch.equal(weights(manual), before)  # the model stepped "sgd0" itself; the trainer added nothing


def test_an_unknown_optimizer_name_is_named():
    updater = Updater(Line(manual=True), TrainConfig(), total_steps=1)
    with pytest.raises(AudiozooError, match="asked to step optimizer 'adam'; it has: sgd0"):
        updater.update(torch.ones((), requires_grad=True), "adam")


@pytest.mark.parametrize("key, value", [("ema", 1.0), ("grad_clip", -1.0), ("warmup_steps", -2)])
def test_bad_update_settings(key, value):
    with pytest.raises(ValueError, match=key):
        TrainConfig(**{key: value})


def test_optimizers_step_fused_and_stay_fused_after_loading_a_plain_state():
    model = torch.nn.Linear(4, 4)
    plain = torch.optim.AdamW(model.parameters(), lr=0.1)
    fast = fused_optimizer(torch.optim.AdamW(model.parameters(), lr=0.1))
    assert fast.param_groups[0]["fused"] is True and plain.param_groups[0]["fused"] is None
    model(torch.ones(2, 4)).sum().backward()
    plain.step()
    fast.load_state_dict(plain.state_dict())  # a checkpoint of the plain optimizer
    assert fast.param_groups[0]["fused"] is True
    fast.step()
    chosen = fused_optimizer(torch.optim.Adam(model.parameters(), foreach=True))
    assert chosen.param_groups[0]["fused"] is None  # what a model chose itself is kept
    rms = torch.optim.RMSprop(model.parameters())
    assert fused_optimizer(rms) is rms and "fused" not in rms.param_groups[0]  # no fused kernel: as it is


def test_a_fused_update_is_the_plain_one_up_to_rounding():
    steps = []
    for fused in (False, True):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
        opt = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.1)
        opt = fused_optimizer(opt) if fused else opt
        x = torch.randn(32, 8, generator=torch.Generator().manual_seed(1))
        for _ in range(20):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
        steps.append(weights(model))
    torch.testing.assert_close(steps[1], steps[0], rtol=1e-5, atol=1e-6)


def test_the_ema_update_is_a_lerp_of_each_weight_bit_for_bit():
    model = Line()
    ema = EMA(model, decay=0.9)
    expected = {name: w.clone() for name, w in ema.weights.items()}
    for _ in range(3):
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(1.5).add_(0.25)
        weight = 1.0 - min(0.9, (1 + ema.updates + 1) / (10 + ema.updates + 1))
        for name, p in model.named_parameters():
            expected[name].lerp_(p.detach(), weight)
        ema.update(model)
    assert all(torch.equal(ema.weights[name], expected[name]) for name in expected)
