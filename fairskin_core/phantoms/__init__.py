"""Procedural dermoscopy phantoms: images with known skin type, lesion and artefacts."""

from .lesion import PHANTOM_DIAGNOSES
from .render import DEFAULT_ARTEFACT_RATES, Phantom, render_phantom
from .skin import phantom_ita_range

__all__ = ["PHANTOM_DIAGNOSES", "DEFAULT_ARTEFACT_RATES", "Phantom", "render_phantom", "phantom_ita_range"]
