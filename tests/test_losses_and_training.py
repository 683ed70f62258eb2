"""Losses, the denoiser, the training loop, EMA and checkpoints."""

import pytest
import torch

from diffusion_lite import data
from diffusion_lite.losses import epsilon_loss, v_loss, x0_loss
from diffusion_lite.nn import timestep_embedding
from diffusion_lite.schedules import NoiseSchedule, predict_eps, velocity
from diffusion_lite.train import EMA, load_checkpoint, save_checkpoint, train
from diffusion_lite.unet import MLPDenoiser

schedule = NoiseSchedule.linear(200)


class Oracle(torch.nn.Module):
    """Knows the clean batch, so it can return the exact target for any (x_t, t)."""

    def __init__(self, x0, target):
        super().__init__()
        self.x0, self.target = x0, target

    def forward(self, x_t, t, cond=None):
        eps = predict_eps(schedule, x_t, t, self.x0)
        if self.target == "eps":
            return eps
        if self.target == "x0":
            return self.x0
        return velocity(schedule, self.x0, t, eps)


@pytest.mark.parametrize("loss, target", [(epsilon_loss, "eps"), (x0_loss, "x0"), (v_loss, "v")])
def test_perfect_oracle_gives_zero_loss(loss, target):
    x0 = torch.randn(32, 2)
    value = loss(Oracle(x0, target), schedule, x0, generator=torch.Generator().manual_seed(0))
    assert value.item() < 1e-8


def test_zero_model_has_unit_epsilon_loss():
    x0 = torch.randn(20_000, 2)

    def zero(x_t, t, cond=None):
        return torch.zeros_like(x_t)

    value = epsilon_loss(zero, schedule, x0, generator=torch.Generator().manual_seed(0))
    assert abs(value.item() - 1.0) < 0.03


def test_reduction_none_gives_one_loss_per_sample():
    x0 = torch.randn(8, 2)
    per_sample = epsilon_loss(MLPDenoiser(), schedule, x0, reduction="none")
    assert per_sample.shape == (8,)


def test_timestep_embedding_distinct_across_t():
    emb = timestep_embedding(torch.arange(1000), 64)
    assert emb.shape == (1000, 64)
    distances = torch.cdist(emb, emb) + torch.eye(1000) * 1e9
    assert distances.min() > 1e-3


def test_training_reduces_the_loss():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    points = data.toy_2d("moons", 4000, generator=g)
    model = MLPDenoiser(hidden=64, num_blocks=2)
    losses = train(model, lambda m, x: epsilon_loss(m, schedule, x, generator=g), points,
                   steps=300, batch_size=256, lr=3e-3, generator=g, progress=False)
    assert sum(losses[-50:]) / 50 < 0.8 * sum(losses[:10]) / 10


def test_ema_is_a_moving_average():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(model.weight, 0.0)
    ema = EMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    assert torch.allclose(ema.model.weight, torch.tensor([[0.1]]))
    ema.update(model)
    assert torch.allclose(ema.model.weight, torch.tensor([[0.19]]))
    assert not ema.model.weight.requires_grad


def test_checkpoint_roundtrip_and_no_silent_overwrite(tmp_path):
    model = MLPDenoiser(hidden=16, num_blocks=1)
    path = save_checkpoint(tmp_path / "m.pt", model, steps=10, schedule="linear")
    other = MLPDenoiser(hidden=16, num_blocks=1)
    metadata = load_checkpoint(path, other)
    assert metadata == {"steps": 10, "schedule": "linear"}
    for a, b in zip(model.parameters(), other.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        save_checkpoint(path, model)
    save_checkpoint(path, other, overwrite=True)
    with pytest.raises(FileNotFoundError, match="path: expected a checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt", model)


def test_checkpoint_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "metadata": {"f": print}}, path)
    with pytest.raises(Exception, match="[Ww]eights only"):
        load_checkpoint(path, MLPDenoiser())
