"""Exercise checkers. Call one with your function: it prints a pass, or raises
``ExerciseError`` with a hint that says what is wrong.

Each checker runs the student's function on random inputs, compares it with the package's
reference, and, when they disagree, compares it with the usual mistakes to name the one made.

One module per chapter or topic; every checker is also here, as ``checks.check_...``:

- ``forward``: chapter 1, ``check_add_noise``, ``check_forgetting_step`` and
  ``check_signal_below``
- ``training``: chapter 2, ``check_epsilon_loss``, ``check_training_loop`` and
  ``check_kl_weight``; chapter 5, ``check_ema_update``, ``check_ema_share`` and
  ``check_total_variation``
- ``sampling``: chapter 3, ``check_ddpm_step``, ``check_ddpm_sample``,
  ``check_no_noise_prediction`` and ``check_floor_scaling``
- ``ddim``: chapter 6, ``check_ddim_step``, ``check_slerp`` and ``check_ddim_sample``
- ``few_step``: chapter 11, ``check_distillation_target`` and ``check_distillation_loss``
- ``networks``: chapter 4, ``check_timestep_embedding``, ``check_conv_output_size``,
  ``check_unet_shapes`` and ``check_untrained_loss``
- ``conditioning``: chapter 7, ``check_guided_eps``, ``check_drop_labels`` and
  ``check_negative_guidance``; chapter 8, ``check_cross_attention``, ``check_prompt_accuracy``
  and ``check_attention_diagnosis`` (with ``SUSPECTS``, the broken cross-attentions it is about)
- ``latent``: chapter 9, ``check_kl``, ``check_reparameterise`` and ``check_flop_ratio``
- ``score_flow``: chapter 10, ``check_score``, ``check_flow_pair``, ``check_flow_euler`` and
  ``check_flow_heun_calls``
- ``gans``: chapter 12, ``check_generator_loss``, ``check_r1_penalty``, ``check_gan_step``
  and ``check_saturation``
- ``beyond``: chapter 13, ``check_replace_known``, ``check_inpaint_loop``,
  ``check_chamfer_distance`` and ``check_flatten``
- ``_common``: what they share: ``ExerciseError``, calling the student's function on copies
  of its inputs, naming the mistake an answer matches, and the record of an exercise
  (``Exercise``: its kind and its typical wrong answers, ``Mistake``)

Each module's ``EXERCISES`` records its exercises; ``EXERCISES`` here gathers them all.
"""

from . import (
    beyond,
    conditioning,
    ddim,
    few_step,
    forward,
    gans,
    latent,
    networks,
    sampling,
    score_flow,
    training,
)
from ._common import Exercise, ExerciseError, Mistake
from .beyond import (
    check_chamfer_distance,
    check_flatten,
    check_inpaint_loop,
    check_replace_known,
)
from .conditioning import (
    check_attention_diagnosis,
    check_cross_attention,
    check_drop_labels,
    check_guided_eps,
    check_negative_guidance,
    check_prompt_accuracy,
)
from .ddim import check_ddim_sample, check_ddim_step, check_slerp
from .few_step import check_distillation_loss, check_distillation_target
from .forward import check_add_noise, check_forgetting_step, check_signal_below
from .gans import (
    check_gan_step,
    check_generator_loss,
    check_r1_penalty,
    check_saturation,
)
from .latent import check_flop_ratio, check_kl, check_reparameterise
from .networks import (
    check_conv_output_size,
    check_timestep_embedding,
    check_unet_shapes,
    check_untrained_loss,
)
from .sampling import (
    check_ddpm_sample,
    check_ddpm_step,
    check_floor_scaling,
    check_no_noise_prediction,
)
from .score_flow import check_flow_euler, check_flow_heun_calls, check_flow_pair, check_score
from .training import (
    check_ema_share,
    check_ema_update,
    check_epsilon_loss,
    check_kl_weight,
    check_total_variation,
    check_training_loop,
)

# Every exercise of the book, by label: its kind and the typical wrong answers its checker names
EXERCISES = {label: exercise for module in (forward, training, sampling, ddim, networks, conditioning,
                                            latent, score_flow, few_step, gans, beyond)
             for label, exercise in module.EXERCISES.items()}

__all__ = [
    "ExerciseError", "Exercise", "Mistake", "EXERCISES",
    "check_add_noise", "check_forgetting_step", "check_signal_below",  # chapter 1
    "check_epsilon_loss", "check_training_loop", "check_kl_weight",           # chapter 2
    "check_ddpm_step", "check_ddpm_sample",                         # chapter 3
    "check_no_noise_prediction", "check_floor_scaling",
    "check_timestep_embedding", "check_conv_output_size",           # chapter 4
    "check_unet_shapes", "check_untrained_loss",
    "check_ema_update", "check_ema_share", "check_total_variation",  # chapter 5
    "check_ddim_step", "check_slerp", "check_ddim_sample",          # chapter 6
    "check_guided_eps", "check_drop_labels", "check_negative_guidance",           # chapter 7
    "check_cross_attention", "check_prompt_accuracy", "check_attention_diagnosis",  # chapter 8
    "check_kl", "check_reparameterise", "check_flop_ratio",         # chapter 9
    "check_score", "check_flow_pair",                               # chapter 10
    "check_flow_euler", "check_flow_heun_calls",
    "check_distillation_target", "check_distillation_loss",         # chapter 11
    "check_generator_loss", "check_r1_penalty", "check_gan_step",   # chapter 12
    "check_saturation",
    "check_replace_known", "check_inpaint_loop",                    # chapter 13
    "check_chamfer_distance", "check_flatten",
]
