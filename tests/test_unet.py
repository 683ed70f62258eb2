"""The image U-Net: shapes for every supported size, time and conditioning signals, learning."""

import pytest
import torch

from diffusion_lite.losses import epsilon_loss
from diffusion_lite.schedules import NoiseSchedule
from diffusion_lite.unet import UNet, UNetConfig

SIZES = [
    UNetConfig(image_size=8, in_channels=1, base_channels=16),
    UNetConfig(image_size=16, in_channels=3, base_channels=16, channel_mults=(1, 2, 2),
               attention_resolutions=(4,)),
    UNetConfig(image_size=28, in_channels=1, base_channels=16, channel_mults=(1, 2, 2),
               attention_resolutions=(7,)),
    UNetConfig(image_size=32, in_channels=3, base_channels=16, channel_mults=(1, 2, 2, 2),
               attention_resolutions=(8,)),
    UNetConfig(image_size=8, in_channels=4, base_channels=16),
]


@pytest.mark.parametrize("config", SIZES, ids=lambda c: f"{c.in_channels}x{c.image_size}")
def test_output_shape_equals_input_shape(config):
    model = UNet(config)
    x = torch.randn(3, config.in_channels, config.image_size, config.image_size)
    assert model(x, torch.tensor([1, 500, 1000])).shape == x.shape


def _perturbed(config):
    """A model whose output layer is not zero, so that inputs visibly reach the output."""
    torch.manual_seed(0)
    model = UNet(config)
    torch.nn.init.normal_(model.conv_out.weight, std=0.1)
    return model.eval()


def test_time_changes_the_output():
    model = _perturbed(UNetConfig(base_channels=16))
    x = torch.randn(1, 1, 8, 8).expand(4, -1, -1, -1)
    out = model(x, torch.tensor([1, 10, 500, 1000]))
    distances = torch.cdist(out.flatten(1), out.flatten(1)) + torch.eye(4) * 1e9
    assert distances.min() > 1e-4


def test_class_conditioning_changes_the_output():
    model = _perturbed(UNetConfig(base_channels=16, num_classes=10))
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([300, 300])
    three, seven = model(x, t, torch.tensor([3, 3])), model(x, t, torch.tensor([7, 7]))
    unconditional = model(x, t)
    assert not torch.allclose(three, seven, atol=1e-5)
    assert torch.allclose(unconditional, model(x, t, torch.tensor([10, 10])))   # None = null class


def test_cross_attention_context_changes_the_output():
    model = _perturbed(UNetConfig(base_channels=16, context_dim=12))
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([300, 300])
    a = model(x, t, torch.randn(2, 5, 12, generator=torch.Generator().manual_seed(1)))
    b = model(x, t, torch.randn(2, 5, 12, generator=torch.Generator().manual_seed(2)))
    assert not torch.allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError, match="context: this block cross-attends"):
        model(x, t)


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    schedule = NoiseSchedule.cosine(1000)
    model = UNet(UNetConfig(base_channels=16))
    x0 = torch.rand(16, 1, 8, 8) * 2 - 1
    t = torch.randint(1, 1001, (16,))
    noise = torch.randn_like(x0)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(30):
        loss = epsilon_loss(model, schedule, x0, t=t, noise=noise)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_bad_configs_and_inputs():
    with pytest.raises(ValueError, match=r"config.image_size: expected a multiple of 2\^2"):
        UNet(UNetConfig(image_size=6, channel_mults=(1, 2, 2)))
    with pytest.raises(ValueError, match="config: expected num_classes or context_dim, got both"):
        UNet(UNetConfig(num_classes=10, context_dim=8))
    model = UNet(UNetConfig(base_channels=16))
    with pytest.raises(ValueError, match=r"x_t: expected shape \(B, 1, 8, 8\), got \(2, 1, 16, 16\)"):
        model(torch.randn(2, 1, 16, 16), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="cond: this UNet is unconditional"):
        model(torch.randn(2, 1, 8, 8), torch.zeros(2, dtype=torch.long), torch.tensor([1, 2]))
