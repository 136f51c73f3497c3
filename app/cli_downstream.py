"""`fairskin downstream`: does synthetic data make a classifier fairer? (a verb of `app.cli`, in its own file for its many options)"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fairskin_core.downstream.settings import CLASSIFIERS, DEFAULT_CLASSIFIER, STRATEGIES, TASKS, ExperimentSettings, TrainingBudget
from fairskin_core.errors import worded

from .cli_types import option_name


def _downstream(args: argparse.Namespace) -> int:
    from fairskin_core.downstream.backbones import BackboneUnavailable
    from fairskin_core.downstream.report import downstream_report, summary_lines

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if args.phantom_world:
        from fairskin_core.downstream.phantom_world import phantom_world

        world = phantom_world(args.phantom_world, progress=say)
        args.train, args.test, args.synthetic, args.test_split = world.train, world.test, world.synthetic, ""
    elif args.train is None or args.test is None:
        raise ValueError("give --train and --test manifests (or --phantom-world FOLDER for the phantom-world critical test)")
    settings = ExperimentSettings(
        train=str(args.train), test=str(args.test), synthetic=args.synthetic and str(args.synthetic),
        oracle=args.oracle and str(args.oracle), strategies=args.strategy and tuple(args.strategy), tone_audit=args.tone_audit,
        task=args.task, classifier=args.classifier, seeds=args.seeds, size=args.size,
        budget=TrainingBudget(steps=args.steps, batch_size=args.batch_size, real_weight=args.real_weight),
        train_split=args.train_split, val_split=args.val_split, test_split=args.test_split, specificity=args.specificity,
        drop_overlapping_test_images=args.drop_overlapping_test_images)
    try:
        report, folder = downstream_report(settings, args.out, overwrite=args.overwrite, progress=say,
                                           allow_download=not args.workspace.offline)
    except BackboneUnavailable as exc:
        print(f"fairskin downstream: error: {worded(exc, option_name)}", file=sys.stderr)
        return 1
    print("\n".join(report["notes"] + summary_lines(report)))
    print(f"wrote {folder / 'report.json'}, {folder / 'by_group.csv'} and {folder / 'report.html'} ({report['seconds']:.0f} s)")
    return 0


def add_downstream_verb(verbs) -> None:
    downstream = verbs.add_parser("downstream", help="does synthetic data make a classifier fairer? real-only vs each strategy, "
                                                     "per skin type, with the research plan's verdict")
    data = downstream.add_argument_group("data")
    data.add_argument("--train", type=Path, help="manifest of the real training images (its --train-split rows)")
    data.add_argument("--test", type=Path, help="manifest of the test images (its --test-split rows), never trained on")
    data.add_argument("--synthetic", type=Path, help="manifest of synthetic images (needed by mixed, reweighted, pretrain-finetune)")
    data.add_argument("--oracle", type=Path, help="manifest of real images (of the under-represented skin types) that the oracle "
                                                  "strategy adds back: how far real data would go, the bound for synthetic data")
    data.add_argument("--phantom-world", type=Path, metavar="FOLDER",
                      help="instead: the plan's critical test on phantoms made in FOLDER (HAM10000-like training set, the default "
                           "model's balanced synthetic set, DDI-like test set; reused when there)")
    data.add_argument("--train-split", default="train", help="split of --train to train on ('' = every row)")
    data.add_argument("--val-split", default="val", help="split of --train to validate on (none: 15%% of the training rows)")
    data.add_argument("--test-split", default="test", help="split of --test to test on ('' = every row)")
    data.add_argument("--drop-overlapping-test-images", action="store_true",
                      help="leave out (and name in the report) test images also seen in training, instead of refusing the test set")
    downstream.add_argument("--strategy", nargs="+", choices=STRATEGIES,
                            help="strategies to compare with real-only, which always runs (default: every one the data given allows)")
    downstream.add_argument("--task", choices=TASKS, default="malignant",
                            help="what the classifier learns (fairness is judged on finding malignancy either way)")
    downstream.add_argument("--classifier", choices=CLASSIFIERS, default=DEFAULT_CLASSIFIER,
                            help="a frozen ImageNet network with a new head, its features computed once (efficientnet-lite0, "
                                 "alexnet, vgg16), or small-cnn trained from scratch")
    downstream.add_argument("--seeds", type=int, default=5, help="training seeds per strategy")
    downstream.add_argument("--size", type=int, default=160, help="image size in px (efficientnet-lite0: a multiple of 32)")
    downstream.add_argument("--steps", type=int, default=600, help="optimiser steps per classifier (the same for every strategy)")
    downstream.add_argument("--batch-size", type=int, default=32)
    downstream.add_argument("--real-weight", type=float, default=2.0, help="reweighted: loss weight of a real image (a synthetic one's: 1)")
    downstream.add_argument("--specificity", type=float, default=0.8,
                            help="the operating point (chosen on the validation set) and the clinic's specificity for sensitivity")
    downstream.add_argument("--tone-audit", type=int, default=0, metavar="N",
                            help="counterfactual tone audit: N test images per skin type moved to every other type and re-scored")
    downstream.add_argument("--out", type=Path, required=True, help="a new folder for report.json, by_group.csv and report.html")
    downstream.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    downstream.set_defaults(run=_downstream)
