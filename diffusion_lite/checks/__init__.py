"""Exercise checkers. Call one with your function: it prints a pass, or raises
``ExerciseError`` with a hint that says what is wrong.

Each checker runs the student's function on random inputs, compares it with the package's
reference, and, when they disagree, compares it with the usual mistakes to name the one made.

One module per chapter or topic; every checker is also here, as ``checks.check_...``:

- ``forward``: chapter 1, ``check_add_noise``
- ``training``: chapter 2, ``check_epsilon_loss``; chapter 5, ``check_ema_update`` and
  ``check_total_variation``
- ``sampling``: chapter 3, ``check_ddpm_step``; chapter 6, ``check_ddim_step`` and
  ``check_slerp``
- ``few_step``: chapter 11, ``check_distillation_target``
- ``networks``: chapter 4, ``check_timestep_embedding`` and ``check_conv_output_size``
- ``conditioning``: chapter 7, ``check_guided_eps`` and ``check_drop_labels``; chapter 8,
  ``check_cross_attention`` and ``check_prompt_accuracy``
- ``latent``: chapter 9, ``check_kl`` and ``check_reparameterise``
- ``score_flow``: chapter 10, ``check_score`` and ``check_flow_pair``
- ``gans``: chapter 12, ``check_generator_loss`` and ``check_r1_penalty``
- ``beyond``: chapter 13, ``check_replace_known`` and ``check_chamfer_distance``
- ``_common``: what they share: ``ExerciseError``, calling the student's function on copies
  of its inputs, naming the mistake an answer matches, and the record of an exercise
  (``Exercise``: its kind and its typical wrong answers, ``Mistake``)

Each module's ``EXERCISES`` records its exercises; ``EXERCISES`` here gathers them all.
"""

from . import (
    beyond,
    conditioning,
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
from .beyond import check_chamfer_distance, check_replace_known
from .conditioning import (
    check_cross_attention,
    check_drop_labels,
    check_guided_eps,
    check_prompt_accuracy,
)
from .few_step import check_distillation_target
from .forward import check_add_noise
from .gans import check_generator_loss, check_r1_penalty
from .latent import check_kl, check_reparameterise
from .networks import check_conv_output_size, check_timestep_embedding
from .sampling import check_ddim_step, check_ddpm_step, check_slerp
from .score_flow import check_flow_pair, check_score
from .training import check_ema_update, check_epsilon_loss, check_total_variation

# Every exercise of the book, by label: its kind and the typical wrong answers its checker names
EXERCISES = {label: exercise for module in (forward, training, sampling, networks, conditioning,
                                            latent, score_flow, few_step, gans, beyond)
             for label, exercise in module.EXERCISES.items()}

__all__ = [
    "ExerciseError", "Exercise", "Mistake", "EXERCISES",
    "check_add_noise",                                              # chapter 1
    "check_epsilon_loss",                                           # chapter 2
    "check_ddpm_step",                                              # chapter 3
    "check_timestep_embedding", "check_conv_output_size",           # chapter 4
    "check_ema_update", "check_total_variation",                    # chapter 5
    "check_ddim_step", "check_slerp",                               # chapter 6
    "check_guided_eps", "check_drop_labels",                        # chapter 7
    "check_cross_attention", "check_prompt_accuracy",               # chapter 8
    "check_kl", "check_reparameterise",                             # chapter 9
    "check_score", "check_flow_pair",                               # chapter 10
    "check_distillation_target",                                    # chapter 11
    "check_generator_loss", "check_r1_penalty",                     # chapter 12
    "check_replace_known", "check_chamfer_distance",                # chapter 13
]
