"""The sampling schedulers a model can be run with, each built on the noise schedule it was trained with.

A model folder stores its training schedule (a `DDPMScheduler` config, which also records the
prediction type); sampling swaps in a faster scheduler from that same config. A name may pin
options of its class: "dpm-solver" takes DPMSolverMultistepScheduler's settings from the stored
config (diffusers' defaults, DPM-Solver++ of order 2, where the config has none, as fairskin's
own and Stable Diffusion 1.5's have none), while "dpm-solver++" is always DPM-Solver++(2M),
whatever a hub model's scheduler config says (some ship the SDE variant or order 3).
"""

from __future__ import annotations

from diffusers.schedulers.scheduling_ddim import DDIMScheduler
from diffusers.schedulers.scheduling_ddpm import DDPMScheduler
from diffusers.schedulers.scheduling_dpmsolver_multistep import DPMSolverMultistepScheduler
from diffusers.schedulers.scheduling_euler_discrete import EulerDiscreteScheduler
from diffusers.schedulers.scheduling_unipc_multistep import UniPCMultistepScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin

# name (one of SCHEDULER_NAMES, in its order): (class, options that override the stored config)
SCHEDULERS: dict[str, tuple[type[SchedulerMixin], dict]] = {
    "ddim": (DDIMScheduler, {}),
    "dpm-solver": (DPMSolverMultistepScheduler, {}),
    "dpm-solver++": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": False}),
    "unipc": (UniPCMultistepScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    "ddpm": (DDPMScheduler, {}),
}


def make_scheduler(name: str, training_scheduler: SchedulerMixin) -> SchedulerMixin:
    """A sampling scheduler of kind ``name`` on the noise schedule the model was trained with."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")
    kind, options = SCHEDULERS[name]
    return kind.from_config(training_scheduler.config, **options)
