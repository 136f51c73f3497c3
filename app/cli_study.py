"""`fairskin study ...` and `fairskin admin create`: the clinician review study and its accounts (verbs of `app.cli`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_types import seed


def _password(args: argparse.Namespace) -> str:
    """The password from standard input (one line), so it never shows in the shell's history."""
    if not args.password_stdin:
        raise ValueError("pass --password-stdin and type or pipe the password (it is never taken as an argument)")
    return sys.stdin.readline().rstrip("\n")


def _study_create(args: argparse.Namespace) -> int:
    from fairskin_core.measurement_cache import MeasurementCache
    from fairskin_core.skin_type.corrections import SkinTypeCorrections
    from review_data.store import workspace_store, workspace_studies_dir
    from review_data.study import create_study

    workspace = args.workspace
    study = create_study(
        workspace_store(workspace), workspace_studies_dir(workspace), args.name, args.real, args.synthetic,
        n_per_arm=args.n_per_arm, seed=args.seed, image_size=args.image_size, estimate_fst=args.estimate_fst, n_practice=args.n_practice,
        accept_tone_difference=args.accept_tone_difference, n_repeats=args.n_repeats, gold_manifest=args.gold, n_gold=args.n_gold,
        ask_certainty=args.ask_certainty, cache=MeasurementCache.of_workspace(workspace),
        corrections=SkinTypeCorrections.of_workspace(workspace),
    )
    practice = f" and {study.n_practice} practice images" if study.n_practice else ""
    if study.n_repeats or study.n_gold:
        practice += f", with {study.n_repeats} repeated and {study.n_gold} gold-standard images hidden among them"
    print(f"created study {study.name}: {study.n_per_arm} real + {study.n_per_arm} synthetic images{practice} at {study.image_size} px "
          f"in {study.folder}")
    print(f"  {study.design}")
    if study.blinding and not study.blinding.separable:  # a separable study's check is among the warnings
        print(f"  {study.blinding.sentence()}")
    for warning in study.warnings:
        print(f"fairskin study: warning: {warning}", file=sys.stderr)
    return 0


def _study_add_reviewer(args: argparse.Namespace) -> int:
    from review_data.accounts import account_id
    from review_data.store import workspace_store
    from review_data.study import add_reviewer

    store = workspace_store(args.workspace)
    if not args.password_stdin and account_id(store, args.username) is None:
        raise ValueError(f"there is no account {args.username!r} yet: pass --password-stdin and type or pipe its password to create it")
    add_reviewer(store, args.name, args.username, _password(args) if args.password_stdin else None, group=args.group)
    print(f"{args.username} now reviews study {args.name}" + (f" (group: {args.group})" if args.group else ""))
    return 0


def _study_export(args: argparse.Namespace) -> int:
    from review_data.export import export_study
    from review_data.store import workspace_store

    for path in export_study(workspace_store(args.workspace), args.name, args.out):
        print(f"wrote {path}")
    return 0


def _study_backup(args: argparse.Namespace) -> int:
    from review_data.store import backup, workspace_store

    copy = backup(workspace_store(args.workspace), args.out)
    print(f"backed up the review database ({copy.studies} studies, {copy.ratings} ratings) to {copy.path}; integrity checked")
    return 0


def _study_list(args: argparse.Namespace) -> int:
    from review_data.store import workspace_store
    from review_data.study import list_studies

    print("\n".join(list_studies(workspace_store(args.workspace))) or "no studies yet")
    return 0


def _study_activity(args: argparse.Namespace) -> int:
    import pandas as pd

    from review_data.activity import reviewer_activity
    from review_data.store import workspace_store

    table = reviewer_activity(workspace_store(args.workspace), args.name)
    table["median_seconds"] = table["median_seconds"].map(lambda s: "-" if pd.isna(s) else f"{s:.1f}")
    print(table.fillna({"last_active": "never"}).to_string(index=False) if len(table) else "no reviewers enrolled yet")
    return 0


def _study_reset_password(args: argparse.Namespace) -> int:
    from review_data.accounts import reset_password
    from review_data.store import workspace_store

    reset_password(workspace_store(args.workspace), args.username, _password(args))
    print(f"{args.username} has a new password; the old one no longer works")
    return 0


def _study_set_disabled(args: argparse.Namespace) -> int:
    from review_data.accounts import set_disabled
    from review_data.store import workspace_store

    set_disabled(workspace_store(args.workspace), args.username, args.disabled)
    print(f"{args.username} is {'disabled: it can no longer sign in (its ratings are kept)' if args.disabled else 'enabled again'}")
    return 0


def _study_close(args: argparse.Namespace) -> int:
    from review_data.store import workspace_store
    from review_data.study import close_study

    closed = close_study(workspace_store(args.workspace), args.name)
    print(f"study {args.name} is closed since {closed.closed_at}: answers can no longer change")
    return 0


def _study_plan(args: argparse.Namespace) -> int:
    from review_data.export import ratings_table
    from review_data.planning import assumed_components, pilot_components, plan_study
    from review_data.store import workspace_store

    components = (pilot_components(ratings_table(workspace_store(args.workspace), args.pilot), args.pilot) if args.pilot
                  else assumed_components())
    plan = plan_study(components, args.half_width, args.auc_half_width)
    print(plan.summary())
    print(plan.table.to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    return 0


def _admin_create(args: argparse.Namespace) -> int:
    from review_data.accounts import create_account
    from review_data.store import workspace_store

    create_account(workspace_store(args.workspace), args.username, _password(args), "admin")
    print(f"admin account {args.username} created")
    return 0


def add_study_verbs(verbs) -> None:
    """Add `study` (create, add-reviewer, export, backup, list, activity, reset-password, disable, enable, plan, close) and
    `admin`."""
    study = verbs.add_parser("study", help="set up and export blinded clinician review studies")
    study_verbs = study.add_subparsers(dest="study_verb", required=True, metavar="ACTION")
    create = study_verbs.add_parser("create", help="sample N real + N synthetic images, matched on FST × diagnosis "
                                                   "(or diagnosis alone where types are missing), and blind them")
    create.add_argument("--name", required=True)
    create.add_argument("--real", type=Path, required=True, help="manifest of the real arm")
    create.add_argument("--synthetic", type=Path, required=True, help="manifest of the synthetic arm")
    create.add_argument("--n-per-arm", type=int, default=50, help="images per arm (default 50)")
    create.add_argument("--seed", type=seed, default=0, help="seed of the sample and of every reviewer's image order")
    create.add_argument("--image-size", type=int, default=None, help="side in px (default: smallest image's short side, at most 512)")
    create.add_argument("--estimate-fst", action="store_true",
                        help="give images without a skin type their estimated one (the learned estimator; recorded as fst_source "
                             "learned with fst_confidence; unknown below its confidence threshold) and match on it")
    create.add_argument("--accept-tone-difference", action="store_true",
                        help="create the study even if the arms, not matched on annotated skin types, differ strongly in measured tone "
                             "(reviewers may then tell them apart by tone alone)")
    create.add_argument("--n-practice", type=int, default=0, metavar="N",
                        help="practice images every reviewer sees first, told the answer after each; never counted (default 0)")
    create.add_argument("--n-repeats", type=int, default=0, metavar="N",
                        help="study images every reviewer sees a second time, far apart, for their test–retest agreement; the second "
                             "answers are never counted in the statistics (default 0)")
    create.add_argument("--gold", type=Path, default=None, metavar="MANIFEST",
                        help="gold-standard images of known truth (each row's source: real, or synthetic / phantom), e.g. obvious "
                             "synthetics: answering them wrong flags an inattentive reviewer; never counted in the statistics")
    create.add_argument("--n-gold", type=int, default=0, metavar="N", help="gold-standard images drawn from --gold (default 0)")
    create.add_argument("--ask-certainty", action="store_true",
                        help="reviewers also say how sure they are of each call (a guess, likely, very sure): with the call, the "
                             "6-point score an MRMC analysis reads (the export's call_score and ratings.imrmc)")
    create.set_defaults(run=_study_create)
    enrol = study_verbs.add_parser("add-reviewer", help="enrol a reviewer account (created if new) in a study")
    enrol.add_argument("--name", required=True, help="the study")
    enrol.add_argument("--username", required=True)
    enrol.add_argument("--password-stdin", action="store_true",
                       help="a new account's password, read from standard input (an existing account keeps its own)")
    enrol.add_argument("--group", default="", help="the reviewer's group in this study, e.g. dermatologist or resident (optional): "
                                                   "the statistics are also given per group")
    enrol.set_defaults(run=_study_add_reviewer)
    export = study_verbs.add_parser("export", help="write ratings.csv (with the key), reviewer_summary.csv, study_summary.csv")
    export.add_argument("--name", required=True)
    export.add_argument("--out", type=Path, required=True, help="folder for the CSV files")
    export.set_defaults(run=_study_export)
    saving = study_verbs.add_parser("backup", help="a consistent copy of the review database, safe while the server runs")
    saving.add_argument("--out", type=Path, required=True, help="the backup file to write (a new name)")
    saving.set_defaults(run=_study_backup)
    listing = study_verbs.add_parser("list", help="list the studies")
    listing.set_defaults(run=_study_list)
    activity = study_verbs.add_parser("activity", help="per reviewer: images rated, seconds per image, last active, disabled or not")
    activity.add_argument("--name", required=True, help="the study")
    activity.set_defaults(run=_study_activity)
    reset = study_verbs.add_parser("reset-password", help="give an account a new password (read from standard input)")
    reset.add_argument("--username", required=True)
    reset.add_argument("--password-stdin", action="store_true", help="read the new password from standard input")
    reset.set_defaults(run=_study_reset_password)
    for verb, disabled, words in (("disable", True, "stop an account signing in; its ratings are kept and still count"),
                                  ("enable", False, "let a disabled account sign in again")):
        toggle = study_verbs.add_parser(verb, help=words)
        toggle.add_argument("--username", required=True)
        toggle.set_defaults(run=_study_set_disabled, disabled=disabled)
    plan = study_verbs.add_parser("plan", help="how many readers × images give the interval widths wanted (before creating a study)")
    plan.add_argument("--half-width", type=float, default=0.05, help="of the detection rate's 95%% interval (default 0.05)")
    plan.add_argument("--auc-half-width", type=float, default=0.05, help="of the reader-averaged AUC's 95%% interval (default 0.05)")
    plan.add_argument("--pilot", metavar="STUDY", help="a study whose ratings give the variance components (default: assumed ones)")
    plan.set_defaults(run=_study_plan)
    close = study_verbs.add_parser("close", help="close a study for good: no answer can be saved or changed after it")
    close.add_argument("--name", required=True, help="the study")
    close.set_defaults(run=_study_close)

    admin = verbs.add_parser("admin", help="manage admin accounts")
    admin_verbs = admin.add_subparsers(dest="admin_verb", required=True, metavar="ACTION")
    admin_create = admin_verbs.add_parser("create", help="create an admin account (separate from reviewer accounts)")
    admin_create.add_argument("--username", required=True)
    admin_create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    admin_create.set_defaults(run=_admin_create)
