"""The sampling schedulers a model can be run with, each built on the noise schedule it was trained with.

A model folder stores its training schedule (a `DDPMScheduler` config, which also records the
prediction type); sampling swaps in a faster scheduler from that same config.
"""

from __future__ import annotations

from diffusers.schedulers.scheduling_ddim import DDIMScheduler
from diffusers.schedulers.scheduling_ddpm import DDPMScheduler
from diffusers.schedulers.scheduling_dpmsolver_multistep import DPMSolverMultistepScheduler
from diffusers.schedulers.scheduling_euler_discrete import EulerDiscreteScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin

SCHEDULERS: dict[str, type[SchedulerMixin]] = {
    "ddim": DDIMScheduler,
    "dpm-solver": DPMSolverMultistepScheduler,
    "euler": EulerDiscreteScheduler,
    "ddpm": DDPMScheduler,
}


def make_scheduler(name: str, training_scheduler: SchedulerMixin) -> SchedulerMixin:
    """A sampling scheduler of kind ``name`` on the noise schedule the model was trained with."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")
    return SCHEDULERS[name].from_config(training_scheduler.config)
