"""The `fairskin generate` and `fairskin tone-transfer` verbs, and the command line that repeats a Generate tab's run."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from fairskin_core.diffusion.sampling_settings import (
    DEFAULT_SCHEDULER,
    DEFAULT_STEPS,
    FST_GUIDANCE,
    SCHEDULER_NAMES,
    SD_GUIDANCE,
    TONE_TRANSFER,
)
from fairskin_core.generation.lora_spec import parse_lora

from .cli_types import OPTION_OF, seed

SD_ONLY_OPTIONS = {f"--{name}": name for name in TONE_TRANSFER}
SCHEDULERS_HELP = f"{', '.join(SCHEDULER_NAMES[:-1])} or {SCHEDULER_NAMES[-1]}"


def _lora(text: str) -> tuple[Path, float]:
    """``DIR`` or ``DIR:WEIGHT`` of --lora, as (folder, weight)."""
    try:
        folder, weight = parse_lora(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return Path(folder), weight


def _stable_diffusion_options() -> argparse.ArgumentParser:
    """The options of a Stable Diffusion model's fine-tunes and speed, shared by `generate` and `tone-transfer`."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--lora", type=_lora, action="append", default=[], metavar="DIR[:WEIGHT]",
                         help="a LoRA folder (from `fairskin lora`, or diffusers' save_lora_weights) and its weight, default 1; "
                              "repeat to combine several")
    options.add_argument("--textual-inversion", type=Path, action="append", default=[], metavar="FILE",
                         help="a learned-token file, or a `fairskin textual-inversion` folder; repeatable")
    options.add_argument("--fast", action="store_true",
                         help="speed-ups for a GPU: LoRAs merged into the weights, fused attention projections, channels-last, "
                              "a compiled UNet on CUDA (images the same within rounding)")
    options.add_argument("--allow-download", action="store_true", help="let --stable-diffusion fetch from the Hugging Face hub")
    return options


def _images_progress(done: int, total: int, rate: float) -> None:
    print(f"\r{done} / {total} images ({rate:.2f} images/s on this process)", end="", file=sys.stderr, flush=True)


def _generate(args: argparse.Namespace) -> int:
    from fairskin_core.generation.generate import PlanRequest, generate_images

    wanted = PlanRequest(fst=args.fst, diagnosis=args.diagnosis, fst_mix=args.fst_mix, diagnosis_mix=args.diagnosis_mix,
                         diagnosis_mix_from=args.diagnosis_mix_from, n=args.n, per_cell=args.per_cell, seed=args.seed)
    made = generate_images(
        args.out, wanted, model=args.model, stable_diffusion=args.stable_diffusion, allow_download=args.allow_download, loras=args.lora,
        textual_inversions=args.textual_inversion, fast=args.fast, steps=args.steps, guidance=args.guidance, scheduler=args.scheduler,
        size=args.size, batch_size=args.batch_size, progress=_images_progress,
    )
    if made.manifest:
        print(f"\n{made.images} images by {made.model_id} in {args.out}; manifest {made.manifest}")
    return 0


def _tone_transfer(args: argparse.Namespace) -> int:
    from fairskin_core.generation.tone_transfer import check_target_types, skipped_images, tone_transfer_set

    fsts = check_target_types(args.fst)
    if args.stable_diffusion:
        from fairskin_core.generation.backends import StableDiffusionBackend
        from fairskin_core.generation.sd_tone_transfer import StableDiffusionToneTransfer, check_strength

        check_strength(args.strength, args.steps)  # before the model loads
        method = StableDiffusionToneTransfer(
            StableDiffusionBackend(args.stable_diffusion, allow_download=args.allow_download, loras=args.lora,
                                   textual_inversions=args.textual_inversion, fast=args.fast),
            strength=args.strength, steps=args.steps, guidance=args.guidance, scheduler=args.scheduler)
    else:
        from fairskin_core.generation.melanin_transfer import MelaninToneTransfer

        given = [option for option, name in SD_ONLY_OPTIONS.items() if getattr(args, name) != TONE_TRANSFER[name]]
        if given or args.lora or args.textual_inversion or args.fast:
            raise ValueError(f"{', '.join(given) or '--lora/--textual-inversion/--fast'}: only with --stable-diffusion "
                             "(the physically based transfer has no denoising settings)")
        method = MelaninToneTransfer()
    manifest = tone_transfer_set(method, args.manifest, args.out, fsts, seed=args.seed, limit=args.limit,
                                 image_ids=args.image_id or None, progress=_images_progress)
    skipped = skipped_images(args.out)
    print(f"\nimages of {args.manifest} on skin type {', '.join(map(str, fsts))} by {method.model_id} in {args.out}; manifest {manifest}")
    if len(skipped):
        first = skipped.iloc[0]
        print(f"skipped {len(skipped)} (listed in {args.out / 'skipped.csv'}), first {first['source_image_id']}: {first['reason']}")
    return 0


def add_generation_verbs(verbs) -> None:
    """`generate` and `tone-transfer` on the `fairskin` parser's verbs."""
    generate = verbs.add_parser("generate", parents=[_stable_diffusion_options()],
                                help="generate images for skin types and diagnoses, with a manifest (resumable)")
    generate.add_argument("--model", type=Path, help="a model folder from `fairskin train` (default: the shipped default model)")
    generate.add_argument("--stable-diffusion", metavar="ID_OR_FOLDER", help="use a diffusers Stable Diffusion pipeline instead")
    generate.add_argument("--fst", type=int, help="one skin type, 1-6 (with --diagnosis)")
    generate.add_argument("--diagnosis", help="one diagnosis (with --fst)")
    generate.add_argument("--n", type=int, help="number of images")
    generate.add_argument("--fst-mix", help='weights per skin type, e.g. "1:1,2:1,3:1,4:1,5:2,6:2" (default: equal)')
    generate.add_argument("--diagnosis-mix", help='weights per diagnosis, e.g. "melanoma:1,nevus:1" (default: equal over the model\'s)')
    generate.add_argument("--diagnosis-mix-from", type=Path, metavar="MANIFEST",
                          help="the diagnosis mix of this manifest (e.g. your real training set; skin types not needed)")
    generate.add_argument("--per-cell", type=int, help="K images of every skin type × diagnosis pair of the mixes")
    generate.add_argument("--seed", type=seed, default=0)
    generate.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    generate.add_argument("--guidance", type=float, help=f"classifier-free guidance (default {FST_GUIDANCE:g} for fairskin's models, "
                                                         f"{SD_GUIDANCE:g} for Stable Diffusion)")
    generate.add_argument("--scheduler", default=DEFAULT_SCHEDULER, help=f"{SCHEDULERS_HELP} (default {DEFAULT_SCHEDULER})")
    generate.add_argument("--size", type=int, help="image side in px, for Stable Diffusion (a multiple of 8; default: the model's own)")
    generate.add_argument("--batch-size", type=int, default=16)
    generate.add_argument("--out", type=Path, required=True, help="folder for images/ and manifest.csv (rerun to resume)")
    generate.set_defaults(run=_generate)

    tone = verbs.add_parser("tone-transfer", parents=[_stable_diffusion_options()],
                            help="a manifest's images on other skin types, the lesion kept (physically based, offline; or img2img)",
                            description="Each image of --manifest on every skin type of --fst; the results and a manifest recording "
                                        "each source image, the parameters and the measured type go to --out. Without a model: "
                                        "physically based (melanin and haemoglobin in optical density, targets measured on real "
                                        "annotated skin; CPU, offline). With --stable-diffusion: img2img, each image noised to "
                                        "--strength and denoised with the prompt of the target type and its own diagnosis.")
    tone.add_argument("--manifest", type=Path, required=True, help="the manifest of the source images")
    tone.add_argument("--fst", type=int, nargs="+", required=True, help="the skin type(s) to move them to, 1-6")
    tone.add_argument("--stable-diffusion", metavar="ID_OR_FOLDER", help="a diffusers Stable Diffusion pipeline: img2img instead")
    tone.add_argument("--out", type=Path, required=True, help="folder for images/ and manifest.csv (rerun to resume)")
    tone.add_argument("--strength", type=float, default=TONE_TRANSFER["strength"],
                      help="img2img: how much is redrawn, above 0 and at most 1 (default %(default)s: the skin changes, the lesion stays)")
    tone.add_argument("--steps", type=int, default=TONE_TRANSFER["steps"],
                      help="img2img: denoising steps of a full schedule; strength × steps of them run (default %(default)s)")
    tone.add_argument("--guidance", type=float, default=TONE_TRANSFER["guidance"],
                      help="img2img: classifier-free guidance (default %(default)s)")
    tone.add_argument("--scheduler", default=TONE_TRANSFER["scheduler"], help=f"img2img: {SCHEDULERS_HELP} (default %(default)s)")
    tone.add_argument("--seed", type=seed, default=0,
                      help="image k to type j uses seed × 1,000,003 + k × (number of types) + j (which real skin is the target)")
    tone.add_argument("--limit", type=int, help="only the manifest's first N images (of those --image-id names, if given)")
    tone.add_argument("--image-id", action="append", default=[], metavar="ID", help="only this image of the manifest; repeatable")
    tone.set_defaults(run=_tone_transfer)


def request_command(request, out: str | Path) -> str:
    """The `fairskin` command line that makes the images of ``request`` (a `GenerationRequest`) into ``out``.

    Each parameter of the request is written under the option this parser gives it, so the command
    shown in the Generate tab is always one the command line takes."""
    verb = "tone-transfer" if request.kind == "tone-transfer" else "generate"
    verbs = argparse.ArgumentParser().add_subparsers()
    add_generation_verbs(verbs)
    option_of = {action.dest: action.option_strings[0] for action in verbs.choices[verb]._actions if action.option_strings}
    words = ["fairskin", verb]
    for parameter, value in _command_parameters(request):
        option = option_of[OPTION_OF.get(parameter, parameter)]
        if value is True:
            words.append(option)
        for one in value if isinstance(value, tuple) else () if value is True else (value,):
            words += [option, f"{one[0]}:{one[1]:g}" if isinstance(one, tuple) else f"{one:g}" if isinstance(one, float) else str(one)]
    return shlex.join([*words, option_of["out"], str(out)])


def _command_parameters(request) -> list[tuple[str, object]]:
    """The request's parameters that its command states, in the command's order (defaults of its kind left out)."""
    stated = []
    if request.stable_diffusion:
        stated += [("stable_diffusion", request.stable_diffusion), ("loras", request.loras),
                   ("textual_inversions", request.textual_inversions)]
        stated += [("allow_download", True)] if request.allow_download else []
    elif request.model:
        stated.append(("model", request.model))
    if request.kind == "tone-transfer":
        stated += [("source_manifest", request.source_manifest), ("fst", request.fst)]
        stated += [("strength", request.strength)] if request.stable_diffusion else []
        stated.append(("source_ids", request.source_ids))
    else:
        stated += [("fst", request.fst), ("diagnosis", request.diagnosis), ("n", request.n)]
    stated.append(("seed", request.seed))
    if not request.physically_based:  # the physically based transfer has no denoising settings
        stated += [("steps", request.steps), ("scheduler", request.scheduler)]
        stated += [(name, getattr(request, name)) for name in ("guidance", "size") if getattr(request, name) is not None]
    return stated
