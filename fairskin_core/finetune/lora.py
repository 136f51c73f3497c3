"""LoRA on Stable Diffusion through peft: low-rank updates of the UNet's attention projections.

peft's `LoraConfig` adds rank-r matrices A, B beside each targeted linear layer (B starts at
zero, so step 0 is the base model), optionally on the text encoder too. Only A and B train, in
fp32 whatever the precision of the frozen weights (see train.py). Saved through stock
`StableDiffusionPipeline.save_lora_weights`, so stock `pipe.load_lora_weights(folder)` loads it,
and several (one per skin type, say) combine with `set_adapters(names, weights)`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .config import TEXT_ENCODER_LORA_TARGETS, FinetuneConfig


class Lora:
    """The adapters of one run on the UNet (and text encoder): what trains and what is saved."""

    def __init__(self, config: FinetuneConfig, unet: torch.nn.Module, text_encoder: torch.nn.Module):
        from peft import LoraConfig

        torch.manual_seed(config.seed)  # peft's initial A matrices
        try:
            unet.add_adapter(LoraConfig(r=config.rank, lora_alpha=config.alpha, init_lora_weights="gaussian",
                                        target_modules=list(config.targets)))
        except ValueError as exc:
            raise ValueError(f"LoRA targets {','.join(config.targets)}: not all name modules of this UNet ({str(exc)[:120]}); "
                             "Stable Diffusion's attention projections are to_q, to_k, to_v, to_out.0") from None
        self.unet, self.text_encoder = unet, text_encoder if config.text_encoder else None
        if self.text_encoder is not None:
            self.text_encoder.add_adapter(LoraConfig(r=config.rank, lora_alpha=config.alpha, init_lora_weights="gaussian",
                                                     target_modules=list(TEXT_ENCODER_LORA_TARGETS)))
        self.tokens: set[str] = set()
        self.fp32_modules: list[torch.nn.Module] = []  # frozen weights follow the accelerator's precision

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"unet": self.unet, **({"text_encoder": self.text_encoder} if self.text_encoder is not None else {})}

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for module in self.modules().values() for p in module.parameters() if p.requires_grad]

    def after_step(self) -> None:
        pass

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The adapter weights under their peft names (checkpoints; the modules kept here are the unwrapped ones)."""
        return {f"{name}.{key}": p.detach().float().cpu().contiguous()
                for name, module in self.modules().items() for key, p in module.named_parameters() if p.requires_grad}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        own = {f"{name}.{key}": p for name, module in self.modules().items() for key, p in module.named_parameters() if p.requires_grad}
        if set(own) != set(state):
            raise ValueError("the checkpoint holds other LoRA layers than this run's: it was written by a run with another config")
        with torch.no_grad():
            for key, p in own.items():
                p.copy_(state[key].to(p))

    def save(self, folder: Path) -> dict:
        """`pytorch_lora_weights.safetensors` in ``folder`` (stock diffusers' format); the record's entries."""
        from diffusers import StableDiffusionPipeline
        from diffusers.utils import convert_state_dict_to_diffusers
        from peft.utils import get_peft_model_state_dict

        layers = {name: convert_state_dict_to_diffusers(get_peft_model_state_dict(module)) for name, module in self.modules().items()}
        StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=layers["unet"],
                                                  text_encoder_lora_layers=layers.get("text_encoder"), safe_serialization=True)
        return {"weights": "pytorch_lora_weights.safetensors"}
