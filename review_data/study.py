"""Setting up a review study: matched sampling, blinded images, reviewers and their orders.

A study lives in two places: its images (re-rendered, under opaque names) in
``<workspace>/studies/<name>/images/``, and everything else — including the answer key, which
image is real and which synthetic — only in the database. A study may also have practice images,
drawn and blinded the same way but kept apart (`practice_images`), which reviewers see first with
the answer after each; and it can be closed, after which no answer of it can change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fairskin_core.atomic import atomic_dir
from fairskin_core.errors import ParameterError
from fairskin_core.hashing import file_sha256
from fairskin_core.images import check_image_header
from fairskin_core.manifest import Manifest, read_manifest
from fairskin_core.measurement_cache import MeasurementCache
from fairskin_core.numbers import seed_number
from fairskin_core.skin_type.corrections import SkinTypeCorrections
from fairskin_core.skin_type.manifest_estimates import with_estimated_fst

from .accounts import AccountError, account_id, create_account, role_of
from .arm_separability import ArmSeparability, arm_separability, from_json, trivial_features
from .attention_checks import choose_repeats, draw_gold, interleave
from .blinding import image_identities, opaque_id, render_blinded, save_blinded, study_image_size
from .sampling import Matching, choose_matching, matched_sample
from .store import ReviewStore, utc_now
from .tone_comparison import ToneComparison, compare_arm_tones

STUDY_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# Which manifest sources may stand in each arm (phantoms may play either: the offline demo).
ARM_SOURCES = {"real": ("real", "phantom"), "synthetic": ("synthetic", "phantom")}
SHARED_IMAGES_NAMED = 5  # a refusal of images in both arms names this many, and counts the rest
MIN_CLINICAL_SIZE = 224  # px: below this, a study's images are too small for a clinical reading (a warning, not an error)
PRACTICE_STREAM = 1  # the practice draw's own random stream: asking for practice images leaves the study's draw as it is
SIZE_GAP = 2.0  # arms whose median native sizes differ more than this many times get a warning
MAX_GROUP = 64  # characters of a reviewer group's name


class StudyError(ParameterError):
    """A refused study operation; the message says why and what to do (naming the parameters as ``{name}``:
    `ParameterError`)."""


@dataclass(frozen=True)
class Study:
    id: int
    name: str
    folder: Path
    seed: int
    n_per_arm: int
    image_size: int
    created_at: str
    matching: Matching
    fst_estimated: bool  # real rows without a skin type were given estimated ones (the learned estimator)
    n_practice: int = 0  # practice images, seen first with their answer, never counted
    native_sizes: dict = field(default_factory=dict, compare=False)  # per arm: short side min, median, max in px ({} if unrecorded)
    closed_at: str | None = None  # when it was closed; None while reviewers may still answer
    warnings: tuple[str, ...] = field(default=(), compare=False)  # for the admin: not errors, but worth knowing
    tones: ToneComparison | None = field(default=None, compare=False)  # the arms' measured tones, where not matched on annotations
    blinding: ArmSeparability | None = field(default=None, compare=False)  # can trivial features tell the arms? (None: not checked)
    n_repeats: int = 0  # study images each reviewer sees twice, far apart (test–retest)
    n_gold: int = 0  # gold-standard images of known truth hidden among the study's (attention)
    asks_certainty: bool = False  # reviewers say how sure they are of each call (1-3): the 6-point score MRMC reads

    @property
    def design(self) -> str:
        """How the arms were matched, in words, for summaries and exports."""
        estimated = ("; skin types of images without one estimated from the image (fst_source learned, with fst_confidence)"
                     if self.fst_estimated else "")
        return self.matching.description + estimated

    @property
    def shown_size(self) -> str:
        """What reviewers saw, in words: for dashboards and exports."""
        native = "; ".join(f"{arm} arm natively {sizes['min']}–{sizes['max']} px (median {sizes['median']:g})"
                           for arm, sizes in self.native_sizes.items())
        return (f"every image shown at {self.image_size} × {self.image_size} px, both arms centre-cropped, resized with one filter "
                f"and saved as PNG alike" + (f"; short sides before: {native}" if native else ""))


def study_warnings(image_size: int, native_sizes: dict, blinding: ArmSeparability | None = None) -> tuple[str, ...]:
    """What an admin should know about a study as made, though nothing stops it: images too small to read clinically,
    arms whose native sizes differ so much that sharpness may tell them apart, arms a trivial feature separates."""
    warnings = []
    if image_size < MIN_CLINICAL_SIZE:
        warnings.append(f"The study's images are {image_size} × {image_size} px, too small for a clinical reading ({MIN_CLINICAL_SIZE} "
                        f"px or more is advised); source images of at least {MIN_CLINICAL_SIZE} px on their short side give larger study "
                        "images.")
    if {"real", "synthetic"} <= set(native_sizes):
        real, synthetic = native_sizes["real"]["median"], native_sizes["synthetic"]["median"]
        gap = max(real, synthetic) / min(real, synthetic)
        if gap > SIZE_GAP:
            larger = "real" if real > synthetic else "synthetic"
            warnings.append(f"The arms' native sizes differ {gap:.1f}× (median short side: real {real:g} px, synthetic {synthetic:g} px). "
                            f"Both are shown at {image_size} px, resampled and re-encoded the same way, but the {larger} arm was "
                            f"shrunk {gap:.1f}× more: its images may look sharper or cleaner, a tell that is not realism. Make both "
                            "arms at similar sizes where you can.")
    if blinding is not None and blinding.separable:
        warnings.append(blinding.sentence() + blinding.advice())
    return tuple(warnings)


def _native_sizes(sampled: dict[str, list[tuple[str, Path]]]) -> dict:
    sizes = {}
    for arm, drawn in sampled.items():
        sides = [min(check_image_header(file)) for _, file in drawn]
        sizes[arm] = {"min": int(min(sides)), "median": float(np.median(sides)), "max": int(max(sides))}
    return sizes


def get_study(store: ReviewStore, name: str) -> Study:
    row = store.db.execute(
        "SELECT *, (SELECT count(*) FROM practice_images p WHERE p.study_id = s.id) AS n_practice,"
        " (SELECT count(*) FROM check_images c WHERE c.study_id = s.id AND c.kind = 'repeat') AS n_repeats,"
        " (SELECT count(*) FROM check_images c WHERE c.study_id = s.id AND c.kind = 'gold') AS n_gold FROM studies s WHERE name = ?",
        [name],
    ).fetchone()
    if row is None:
        raise StudyError(f"no study named {name!r}; create it first (Studies tab, or `fairskin study create`)")
    native_sizes = json.loads(row["native_sizes"]) if row["native_sizes"] else {}
    blinding = from_json(json.loads(row["blinding_check"])) if row["blinding_check"] else None
    return Study(row["id"], row["name"], Path(row["folder"]), row["seed"], row["n_per_arm"], row["image_size"], row["created_at"],
                 Matching(row["matched_on"], row["matching_note"]), bool(row["fst_estimated"]), row["n_practice"], native_sizes,
                 row["closed_at"], study_warnings(row["image_size"], native_sizes, blinding), blinding=blinding,
                 n_repeats=row["n_repeats"], n_gold=row["n_gold"], asks_certainty=bool(row["asks_certainty"]))


def list_studies(store: ReviewStore, open_only: bool = False) -> list[str]:
    """The studies' names in the order they were made (``open_only``: those still taking answers)."""
    where = " WHERE closed_at IS NULL" if open_only else ""
    return [row["name"] for row in store.db.execute(f"SELECT name FROM studies{where} ORDER BY id")]


def _load_arm(path: Path, arm: str, allowed_roots: list[Path] | None, estimate_fst: bool, cache: MeasurementCache | None,
              corrections: SkinTypeCorrections | None) -> Manifest:
    manifest = read_manifest(path, check_files="header", allowed_roots=allowed_roots)
    wrong = manifest.table[~manifest.table["source"].isin(ARM_SOURCES[arm])]
    if len(wrong):
        first = wrong.iloc[0]
        raise StudyError(
            f"{path}: the {arm} arm may hold only {' or '.join(ARM_SOURCES[arm])} images, but {len(wrong)} rows are "
            f"{', '.join(sorted(set(wrong['source'])))} (first: image_id {first['image_id']!r}); give the right manifest"
        )
    if estimate_fst:
        manifest.table, _ = with_estimated_fst(manifest, cache=cache, corrections=corrections)
    return manifest


def _refuse_one_manifest_as_both_arms(real: Manifest, synthetic: Manifest) -> None:
    """Refuse one manifest as both arms (the same file, or files listing the same images), whatever a draw would give.

    Drawn from one manifest, the arms could only fail to overlap by chance (a small draw can), and
    the study would then compare the manifest with itself under two labels."""
    if os.path.samefile(real.path, synthetic.path):
        raise StudyError(f"{real.path} is given as both the real and the synthetic arm; give each arm its own manifest")
    if _image_files(real) == _image_files(synthetic):
        raise StudyError(f"{real.path} and {synthetic.path} list the same {len(real.table)} images: they are one manifest; "
                         "give each arm its own manifest")


def _image_files(manifest: Manifest) -> set[str]:
    table = manifest.table
    return {os.path.realpath(manifest.image_file(path, root)) for path, root in zip(table["image_path"], table["image_root"], strict=True)}


def _refuse_images_in_both_arms(sampled: dict[str, list[tuple[str, Path]]]) -> None:
    """Refuse a draw that puts one image in both arms: reviewers would judge it once as real and once as synthetic.

    Two images are one when they share an image id, their file's bytes, or their decoded pixels (a
    PNG and a lossless re-encoding share pixels, not bytes). Only the drawn images are compared:
    a real image elsewhere in the synthetic manifest that this draw left out never reaches the
    reviewers, and every study is checked on its own draw, so no study can hold one. Comparing
    whole manifests would decode every image of both (thousands for HAM10000 or ISIC) to refuse
    studies that are sound; the draw costs one more decode of its 2 × N images.
    """
    real = {}
    for image_id, file in sampled["real"]:
        for identity in image_identities(image_id, file):
            real.setdefault(identity, image_id)
    reasons = {
        "id": "{real!r} has the same image id in both manifests",
        "file": "real image {real!r} and synthetic image {synthetic!r} are the same file",
        "pixels": "real image {real!r} and synthetic image {synthetic!r} have the same pixels (one picture saved as two files)",
    }
    shared = []
    for image_id, file in sampled["synthetic"]:
        match = next((identity for identity in image_identities(image_id, file) if identity in real), None)
        if match:
            shared.append(reasons[match[0]].format(real=real[match], synthetic=image_id))
    if shared:
        more = f"; and {len(shared) - SHARED_IMAGES_NAMED} more" if len(shared) > SHARED_IMAGES_NAMED else ""
        raise StudyError(
            f"{len(shared)} image{'s are' if len(shared) > 1 else ' is'} in both arms of this study, so reviewers would see "
            f"{'them' if len(shared) > 1 else 'it'} as real and as synthetic: {'; '.join(shared[:SHARED_IMAGES_NAMED])}{more}. "
            "An image may stand in one arm only: take these images out of one of the two manifests, "
            "or check that each arm was given the right manifest"
        )


def _json_row(row: pd.Series) -> str:
    return json.dumps({k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items()}, sort_keys=True)


def create_study(
    store: ReviewStore,
    studies_dir: Path,
    name: str,
    real_manifest: Path,
    synthetic_manifest: Path,
    *,
    n_per_arm: int = 50,
    seed: int = 0,
    image_size: int | None = None,
    estimate_fst: bool = False,
    allowed_roots: list[Path] | None = None,
    n_practice: int = 0,
    accept_tone_difference: bool = False,
    n_repeats: int = 0,
    gold_manifest: Path | None = None,
    n_gold: int = 0,
    ask_certainty: bool = False,
    cache: MeasurementCache | None = None,
    corrections: SkinTypeCorrections | None = None,
) -> Study:
    """Sample, blind and register a study; on any error nothing is created.

    Arms are matched on the finest strata both allow (`choose_matching`): FST × diagnosis, FST
    group × diagnosis, or diagnosis alone where a manifest has no skin types. ``estimate_fst``
    first gives images without a type their estimated one (`with_estimated_fst`: fst_source learned).
    Arms not matched on annotated types are compared in skin tone (`compare_arm_tones`); where they
    differ strongly the study is refused unless ``accept_tone_difference``, and the comparison is
    always among the returned study's ``warnings``.
    ``allowed_roots`` (the web app): folders the manifests and their images must lie in. A draw
    that puts one image in both arms is refused (`_refuse_images_in_both_arms`). ``n_practice``
    more images are drawn as practice (`_draw_practice`). ``n_repeats`` of the study's images are
    shown to each reviewer twice, and ``n_gold`` images of ``gold_manifest`` (whose source is their
    truth) once, hidden among the others (`attention_checks`). With ``ask_certainty`` reviewers also
    say how sure they are of each call (`answers.CERTAINTY`). The returned study's ``warnings`` say
    what the admin should know, such as images too small for a clinical reading. ``cache``, ``corrections``: the
    measurements and corrected types the skin-type estimates use (the workspace's, in the CLI and the app; see `skin_type_table`).
    """
    if not STUDY_NAME.fullmatch(name):
        raise StudyError(f"study name {name!r}: use 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit")
    for count, what in ((n_practice, "practice images"), (n_repeats, "repeated images"), (n_gold, "gold-standard images")):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise StudyError(f"the number of {what} must be a whole number, 0 or more, not {count!r}")
    if n_repeats > n_per_arm:
        raise StudyError(f"{n_repeats} repeated images is more than half the study's {2 * n_per_arm} images: ask for at most "
                         f"{n_per_arm}")
    if bool(n_gold) != (gold_manifest is not None):
        raise StudyError("gold-standard images need both a manifest of them (its source column is each one's truth) and how many "
                         "to show; give both, or neither")
    seed = seed_number(seed)
    if store.db.execute("SELECT 1 FROM studies WHERE name = ?", [name]).fetchone():
        raise StudyError(f"a study named {name!r} already exists; choose another study name")
    folder = Path(studies_dir) / name
    if folder.exists():
        raise StudyError(f"{folder} exists but no study of that name is registered (left by an interrupted run?); "
                         "remove it or choose another study name")
    real, synthetic = (
        _load_arm(Path(m), arm, allowed_roots, estimate_fst, cache, corrections)
        for m, arm in ((real_manifest, "real"), (synthetic_manifest, "synthetic"))
    )
    _refuse_one_manifest_as_both_arms(real, synthetic)
    gold_rows = read_manifest(gold_manifest, check_files="header", allowed_roots=allowed_roots) if n_gold else None
    matching = choose_matching(real.table, synthetic.table)
    real_rows, synthetic_rows = matched_sample(real.table, synthetic.table, n_per_arm, seed, on=matching.on)
    arms = [("real", real, real_rows), ("synthetic", synthetic, synthetic_rows)]
    sampled = {
        arm: [(image_id, manifest.image_file(path, root))
              for image_id, path, root in zip(rows["image_id"], rows["image_path"], rows["image_root"], strict=True)]
        for arm, manifest, rows in arms
    }
    _refuse_images_in_both_arms(sampled)
    tones = compare_arm_tones(sampled, cache) if matching.on != "fst" or estimate_fst else None
    if tones and tones.strongly_different and not accept_tone_difference:
        raise StudyError(f"{tones.sentence()}. Nothing was created: draw from better-matched manifests, or confirm that the study "
                         "should go ahead anyway ({accept_tone_difference})", "accept_tone_difference")
    size = study_image_size([file for drawn in sampled.values() for _, file in drawn], image_size)
    native_sizes = _native_sizes(sampled)
    practice = _draw_practice(arms, sampled, n_practice, seed, size) if n_practice else []
    gold = _draw_gold(gold_rows, n_gold, seed, sampled, practice) if n_gold else []

    images, practice_images, features = [], [], {"real": [], "synthetic": []}
    with atomic_dir(folder) as staging:
        (staging / "images").mkdir()
        drawn = [(images, arm, manifest, row) for arm, manifest, rows in arms for _, row in rows.iterrows()]
        for kept, arm, manifest, row in drawn + [(practice_images, *chosen) for chosen in practice]:
            key = opaque_id()
            file = f"images/{key}.png"
            source = manifest.image_file(row["image_path"], row["image_root"])
            shown = render_blinded(source, size)
            save_blinded(shown, staging / file)
            if kept is images:
                features[arm].append(trivial_features(source, shown))
            fst = None if pd.isna(row["fst"]) else int(row["fst"])
            kept.append((key, arm, row["image_id"], _json_row(row), fst, row["fst_group"], row["diagnosis"], file))
        checks = []
        for index in choose_repeats([arm for _, arm, *_ in images], n_repeats, seed):  # the same picture, under another name
            shown_key, arm, *described, shown_file = images[index]
            key = opaque_id()
            shutil.copyfile(staging / shown_file, staging / f"images/{key}.png")
            checks.append((key, "repeat", shown_key, arm, *described, f"images/{key}.png"))
        for truth, row in gold:
            key = opaque_id()
            save_blinded(render_blinded(gold_rows.image_file(row["image_path"], row["image_root"]), size), staging / f"images/{key}.png")
            fst = None if pd.isna(row["fst"]) else int(row["fst"])
            checks.append((key, "gold", None, truth, row["image_id"], _json_row(row), fst, row["fst_group"], row["diagnosis"],
                           f"images/{key}.png"))
    blinding = arm_separability(features, seed)
    try:
        with store.write() as db:
            study_id = db.execute(
                "INSERT INTO studies (name, created_at, seed, n_per_arm, image_size, real_manifest, real_manifest_sha256,"
                " synthetic_manifest, synthetic_manifest_sha256, folder, matched_on, matching_note, fst_estimated, native_sizes,"
                " blinding_check, asks_certainty) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [name, utc_now(), seed, n_per_arm, size, str(Path(real_manifest).resolve()), file_sha256(real_manifest),
                 str(Path(synthetic_manifest).resolve()), file_sha256(synthetic_manifest), str(folder.resolve()),
                 matching.on, matching.note, int(estimate_fst), json.dumps(native_sizes, sort_keys=True),
                 json.dumps(blinding.to_json(), sort_keys=True), int(bool(ask_certainty))],
            ).lastrowid
            db.conn.executemany(
                "INSERT INTO study_images (id, study_id, source, image_id, manifest_row, fst, fst_group, diagnosis, file)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(key, study_id, *rest) for key, *rest in images],
            )
            db.conn.executemany(
                "INSERT INTO practice_images (id, study_id, source, image_id, manifest_row, fst, fst_group, diagnosis, file)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(key, study_id, *rest) for key, *rest in practice_images],
            )
            db.conn.executemany(
                "INSERT INTO check_images (id, study_id, kind, repeat_of, truth, image_id, manifest_row, fst, fst_group, diagnosis,"
                " file) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(key, study_id, *rest) for key, *rest in checks],
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    study = get_study(store, name)
    return dataclasses.replace(study, warnings=(*study.warnings, tones.sentence()), tones=tones) if tones else study


def _draw_practice(arms: list, sampled: dict[str, list[tuple[str, Path]]], n: int, seed: int, size: int) -> list:
    """``n`` practice images as (arm, manifest, row): half from each arm, an odd one from an arm the seed picks.

    Drawn at random (the study's seed, a stream of their own) from the images the study did not
    draw, skipping any that is the same picture as one already chosen (`image_identities`: the study's,
    in either arm, or another practice image) — a reviewer told the answer for it in practice
    would know it in the study — and any smaller than the study's size, which would be enlarged.
    """
    rng = np.random.default_rng([seed, PRACTICE_STREAM])
    counts = {"real": n // 2, "synthetic": n // 2}
    if n % 2:
        counts[str(rng.choice(list(counts)))] += 1
    taken = {identity for drawn in sampled.values() for image_id, file in drawn for identity in image_identities(image_id, file)}
    chosen = []
    for arm, manifest, rows in arms:
        left = manifest.table.drop(index=rows.index).sort_values("image_id", kind="stable")
        found = 0
        for i in rng.permutation(len(left)):
            if found == counts[arm]:
                break
            row = left.iloc[i]
            file = manifest.image_file(row["image_path"], row["image_root"])
            identities = image_identities(row["image_id"], file)
            if min(check_image_header(file)) < size or taken.intersection(identities):
                continue
            taken.update(identities)
            chosen.append((arm, manifest, row))
            found += 1
        if found < counts[arm]:
            raise StudyError(
                f"only {found} {arm} images are left for practice (not in the study, not the same picture as one in it, at least "
                f"{size} px), fewer than the {counts[arm]} needed for {n} practice images; ask for fewer practice images, "
                f"fewer images per arm, or add {arm} images"
            )
    return chosen


def _draw_gold(manifest: Manifest, n: int, seed: int, sampled: dict, practice: list) -> list:
    """`attention_checks.draw_gold`, skipping the study's and the practice images: a gold image must be one seen once."""
    taken = {identity for drawn in sampled.values() for image_id, file in drawn for identity in image_identities(image_id, file)}
    for _, arm_manifest, row in practice:
        taken.update(image_identities(row["image_id"], arm_manifest.image_file(row["image_path"], row["image_root"])))
    try:
        return draw_gold(manifest, n, seed, taken)
    except ValueError as exc:
        raise StudyError(str(exc)) from None


def _order_seed(study_seed: int, username: str) -> int:
    """The reviewer's order seed: reproducible from the study seed and the username."""
    name_key = int.from_bytes(hashlib.sha256(username.encode()).digest()[:8], "big")
    return int(np.random.SeedSequence([study_seed, name_key]).generate_state(1, np.uint64)[0] >> 1)


def _open_study(store: ReviewStore, study_name: str) -> Study:
    study = get_study(store, study_name)
    if study.closed_at:
        raise StudyError(f"study {study_name!r} is closed, so no reviewer can join it; create a new study for more readings")
    return study


def add_reviewer(store: ReviewStore, study_name: str, username: str, password: str | None = None, group: str = "") -> int:
    """Enrol a reviewer with their own random image order: an existing reviewer account as it is, or a new one made with
    ``password``.

    An existing account's password is the reviewer's: it is never asked for here, and one given for it is refused rather
    than silently ignored (a new password is set by `accounts.reset_password`). ``group``: the reviewer's group in this study
    (`enrol_reviewer`)."""
    _open_study(store, study_name)  # a missing or closed study is named before any account is made
    if account_id(store, username) is None:
        if not password:
            raise AccountError(f"there is no account {username!r} yet: a new account needs a password (at least 8 characters)")
        create_account(store, username, password, "reviewer")
    elif password and role_of(store, username) == "reviewer":  # an admin's is refused as such by enrol_reviewer
        raise AccountError(f"account {username!r} exists and keeps its own password: enrol it without a password "
                           "(a password reset gives it a new one)")
    return enrol_reviewer(store, study_name, username, group)


def enrol_reviewer(store: ReviewStore, study_name: str, username: str, group: str = "") -> int:
    """Enrol an existing reviewer account in a study, with its own random image order (seeded by study and name).

    ``group`` (optional, up to 64 characters): the reviewer's group in this study, such as dermatologist or resident; the
    statistics are also given per group (`stats.GROUP_KINDS`)."""
    group = " ".join((group or "").split())
    if len(group) > MAX_GROUP:
        raise StudyError(f"reviewer group {group[:20]!r}…: use at most {MAX_GROUP} characters")
    study = _open_study(store, study_name)
    reviewer = account_id(store, username)
    row = store.db.execute("SELECT role, disabled FROM accounts WHERE id = ?", [reviewer]).fetchone()
    if row["role"] != "reviewer":
        raise AccountError(f"{username!r} is an admin account; reviewers need accounts of their own")
    if row["disabled"]:
        raise AccountError(f"account {username!r} is disabled; enable it first to enrol it")
    seed = _order_seed(study.seed, username)
    images = [r["id"] for r in store.db.execute("SELECT id FROM study_images WHERE study_id = ? ORDER BY source, image_id", [study.id])]
    order = np.random.default_rng(seed).permutation(len(images))
    checks = [(r["id"], r["repeat_of"]) for r in store.db.execute(
        "SELECT id, repeat_of FROM check_images WHERE study_id = ? ORDER BY kind, id", [study.id])]
    sequence = list(enumerate(interleave([images[i] for i in order], checks, seed)))
    with store.write() as db:
        if db.execute("SELECT 1 FROM study_reviewers WHERE study_id = ? AND reviewer_id = ?", [study.id, reviewer]).fetchone():
            raise StudyError(f"{username!r} is already a reviewer of study {study_name!r}")
        db.execute(
            "INSERT INTO study_reviewers (study_id, reviewer_id, order_seed, added_at, reviewer_group) VALUES (?, ?, ?, ?, ?)",
            [study.id, reviewer, seed, utc_now(), group],
        )
        for table, is_check in (("assignments", False), ("check_assignments", True)):
            db.conn.executemany(
                f"INSERT INTO {table} (study_id, reviewer_id, position, image_id) VALUES (?, ?, ?, ?)",
                [(study.id, reviewer, position, image) for position, (image, check) in sequence if check == is_check],
            )
    return reviewer


def close_study(store: ReviewStore, study_name: str) -> Study:
    """Close a study for good: from now on no answer of it can be saved or changed, and the database refuses it too.

    Closing a closed study changes nothing (it keeps the time it was first closed)."""
    study = get_study(store, study_name)
    with store.write() as db:
        db.execute("UPDATE studies SET closed_at = ? WHERE id = ? AND closed_at IS NULL", [utc_now(), study.id])
    return get_study(store, study_name)
