"""The VAE, the score/ε identities, the ODE/SDE samplers and flow matching (chapters 9–11)."""


import pytest
import torch

from diffusion_lite.losses import flow_matching_loss, kl_to_standard_normal, vae_loss
from diffusion_lite.samplers import ddim_sample
from diffusion_lite.schedules import FlowPath, NoiseSchedule, eps_from_score, score_from_eps
from diffusion_lite.solvers import flow_sample, ode_sample
from diffusion_lite.vae import VAE, VAEConfig, latent_scale


def test_vae_shapes_and_errors():
    vae = VAE(VAEConfig(image_size=16, in_channels=3, base_channels=8, latent_channels=4))
    x = torch.rand(5, 3, 16, 16) * 2 - 1
    mean, logvar = vae.encode(x)
    assert mean.shape == logvar.shape == (5, 4, 4, 4) == (5, *vae.config.latent_shape)
    assert vae.decode(mean).shape == x.shape
    reconstruction, _, _ = vae(x, generator=torch.Generator().manual_seed(0))
    assert reconstruction.shape == x.shape
    scale = latent_scale(vae, x)
    assert abs((vae.encode(x)[0] * scale).std().item() - 1) < 1e-4      # unit std, pooled
    with pytest.raises(ValueError, match="x: expected images"):
        vae.encode(torch.zeros(2, 1, 16, 16))
    with pytest.raises(ValueError, match="z: expected latents"):
        vae.decode(torch.zeros(2, 4, 8, 8))
    with pytest.raises(ValueError, match="config"):
        VAE(VAEConfig(image_size=10))


def test_kl_is_zero_exactly_at_the_standard_normal():
    zeros = torch.zeros(3, 4, 2, 2)
    assert torch.equal(kl_to_standard_normal(zeros, zeros), torch.zeros(3))
    assert (kl_to_standard_normal(zeros + 0.1, zeros) > 0).all()
    assert (kl_to_standard_normal(zeros, zeros - 0.1) > 0).all()


def test_a_few_steps_reduce_the_vae_loss():
    torch.manual_seed(0)
    vae = VAE(VAEConfig(image_size=8, in_channels=1, base_channels=8, channel_mults=(1,),
                        latent_channels=2))
    x = torch.rand(32, 1, 8, 8) * 2 - 1
    optimizer = torch.optim.Adam(vae.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    first = vae_loss(vae, x, generator=g)[0].item()
    for _ in range(40):
        loss, parts = vae_loss(vae, x, generator=g)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.7 * first
    assert set(parts) == {"reconstruction", "kl"}
    with pytest.raises(ValueError, match="kl_weight"):
        vae_loss(vae, x, kl_weight=-1)


def test_score_and_eps_convert_both_ways():
    schedule = NoiseSchedule.cosine(1000)
    eps = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([1, 10, 500, 1000])
    assert torch.allclose(eps_from_score(schedule, score_from_eps(schedule, eps, t), t), eps, atol=1e-5)
    # for data concentrated at 0, x_t = sqrt(1 - ab) eps and the score of N(0, 1 - ab) is -x/(1-ab)
    one_minus = schedule.one_minus_alpha_bars
    x_t = one_minus[t].sqrt()[:, None] * eps
    exact = -x_t / one_minus[t][:, None]
    assert torch.allclose(score_from_eps(schedule, eps, t), exact, rtol=1e-4)


class GaussianOracle(torch.nn.Module):
    """The exact ε-prediction for data ~ N(mu, s² I): a perfect score."""

    def __init__(self, schedule, mu, s):
        super().__init__()
        self.alpha_bars, self.one_minus = schedule.alpha_bars, schedule.one_minus_alpha_bars
        self.mu, self.s = mu, s
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x_t, t, cond=None):
        ab, om = self.alpha_bars[t][:, None], self.one_minus[t][:, None]
        return om.sqrt() * (x_t - ab.sqrt() * self.mu) / (ab * self.s**2 + om)


@pytest.mark.parametrize("method, steps, tol", [("heun", 30, 0.03), ("euler", 200, 0.03),
                                                ("euler_maruyama", 500, 0.05)])
def test_perfect_score_recovers_the_gaussian(method, steps, tol):
    schedule = NoiseSchedule.linear(1000)
    mu, s = torch.tensor([1.0, -2.0]), 0.5
    oracle = GaussianOracle(schedule, mu, s)
    x = ode_sample(oracle, schedule, (20_000, 2), num_steps=steps, method=method,
                   generator=torch.Generator().manual_seed(0), progress=False)
    assert (x.mean(0) - mu).abs().max() < tol
    assert (x.std(0) - s).abs().max() < tol


def test_euler_on_the_ode_is_ddim():
    schedule = NoiseSchedule.cosine(1000)
    oracle = GaussianOracle(schedule, torch.tensor([0.3, 0.1]), 0.4)
    x_T = torch.randn(64, 2, generator=torch.Generator().manual_seed(3))
    euler = ode_sample(oracle, schedule, (64, 2), num_steps=20, method="euler", x_T=x_T, progress=False)
    ddim = ddim_sample(oracle, schedule, (64, 2), num_steps=20, x_T=x_T, progress=False)
    assert torch.allclose(euler, ddim, atol=1e-3)


class StraightLine(torch.nn.Module):
    """The exact velocity for one (x0, noise) pair: noise - x0, at every t."""

    def __init__(self, x0, noise):
        super().__init__()
        self.v = noise - x0
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x_t, t, cond=None):
        return self.v.expand_as(x_t)


def test_flow_matching_target_is_exact_on_a_straight_path():
    g = torch.Generator().manual_seed(4)
    x0, noise = torch.randn(1, 3, generator=g), torch.randn(1, 3, generator=g)
    model = StraightLine(x0, noise)
    for t in [0.0, 0.3, 0.9]:
        loss = flow_matching_loss(model, FlowPath(), x0, t=torch.tensor([t]), noise=noise)
        assert loss.item() == pytest.approx(0.0, abs=1e-12)
    for method in ("euler", "heun"):
        for steps in (1, 7):
            out = flow_sample(model, FlowPath(), (1, 3), num_steps=steps, method=method, x_T=noise, progress=False)
            assert torch.allclose(out, x0, atol=1e-5)


@pytest.mark.parametrize("t, t_prev", [(1000, 701), (501, 481), (41, 0)])
def test_one_step_towards_the_two_step_target_lands_where_the_teacher_did(t, t_prev):
    from diffusion_lite.distill import two_step_target
    from diffusion_lite.samplers import ddim_step

    schedule = NoiseSchedule.cosine(1000)
    g = torch.Generator().manual_seed(5)
    x_t, x_prev_teacher = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    x0 = two_step_target(schedule, x_t, t, t_prev, x_prev_teacher)
    alpha_bars, one_minus = schedule.alpha_bars, schedule.one_minus_alpha_bars
    eps = (x_t - alpha_bars[t].sqrt() * x0) / one_minus[t].sqrt()
    assert torch.allclose(ddim_step(schedule, eps, x_t, t, t_prev), x_prev_teacher, atol=1e-3)


def test_distillation_loss_trains_a_student():
    from diffusion_lite.distill import distillation_loss
    from diffusion_lite.unet import MLPDenoiser

    torch.manual_seed(0)
    schedule = NoiseSchedule.cosine(1000)
    teacher = GaussianOracle(schedule, torch.tensor([0.5, -0.5]), 0.3)
    student = MLPDenoiser(hidden=64, num_blocks=2)
    optimizer = torch.optim.Adam(student.parameters(), lr=2e-3)
    data = 0.3 * torch.randn(512, 2) + torch.tensor([0.5, -0.5])
    g = torch.Generator().manual_seed(6)
    losses = []
    for _ in range(150):
        loss = distillation_loss(student, teacher, schedule, data[torch.randint(0, 512, (128,))],
                                 student_steps=4, generator=g)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-20:]) < 0.5 * sum(losses[:20])
