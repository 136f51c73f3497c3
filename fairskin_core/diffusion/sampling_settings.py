"""The sampling settings every front end offers and defaults to, one copy of each.

No heavy import here: the command line reads these to write its help before anything loads.
`fairskin_core.diffusion.schedulers` builds one scheduler per name of `SCHEDULER_NAMES`.
"""

SCHEDULER_NAMES = ("ddim", "dpm-solver", "dpm-solver++", "unipc", "euler", "ddpm")
DEFAULT_SCHEDULER = "ddim"
DEFAULT_STEPS = 25
MAX_STEPS = 1000
FST_GUIDANCE = 3.0  # the classifier-free guidance fairskin's own models work best at
SD_GUIDANCE = 7.5  # and Stable Diffusion's
# img2img tone transfer with Stable Diffusion: the skin changes at strength 0.6, the lesion stays
TONE_TRANSFER = {"strength": 0.6, "steps": DEFAULT_STEPS, "guidance": SD_GUIDANCE, "scheduler": "dpm-solver++"}
