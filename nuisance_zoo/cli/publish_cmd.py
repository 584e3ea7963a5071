"""`nuisance-zoo publish NAME --repo-id ORG/REPO [--dry-run]`: upload a model folder to the Hub.

A thin face over :func:`nuisance_zoo.hub.publish`: NAME is a folder under ``hub_cards/`` (or a
path). The folder is validated first (:func:`nuisance_zoo.hub.validate_card`); ``--dry-run``
stops there and lists what would be uploaded.

Example:
    $ nuisance-zoo publish gtsrb-brightness --repo-id my-org/gtsrb-brightness --dry-run
"""
from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "publish",
        help="validate a model folder (hub_cards/NAME) and upload it to the Hugging Face Hub",
        description="Validate hub_cards/NAME (model card front matter, config.json, sha256 of "
                    "model.safetensors, no stray files) and upload it with huggingface_hub.",
    )
    p.add_argument("name", metavar="NAME", help="a folder under hub_cards/ (or a path to a model folder)")
    p.add_argument("--repo-id", required=True, metavar="ORG/REPO", help="Hub repository to upload to")
    p.add_argument("--dry-run", action="store_true", help="validate and list the files; upload nothing")
    p.add_argument("--revision", default=None, metavar="BRANCH", help="branch to upload to (default: main)")
    p.add_argument("--token", default=None, help="Hub token (default: the logged-in user's or HF_TOKEN)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import hub

    try:
        folder = hub.card_folder(args.name)
    except FileNotFoundError as e:
        print(f"nuisance-zoo publish: error: {e}", file=sys.stderr)
        return 2
    problems = hub.validate_card(folder)
    if problems:
        print(f"nuisance-zoo publish: {folder} is not ready to publish ({len(problems)} problem"
              f"{'s' if len(problems) != 1 else ''}):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    result = hub.publish(folder, args.repo_id, dry_run=args.dry_run, token=args.token, revision=args.revision)
    verb = "would upload" if args.dry_run else "uploaded"
    print(f"{folder} is valid; {verb} to {result['repo_id']}@{result['revision']}:")
    width = max(len(f["file"]) for f in result["files"])
    for f in result["files"]:
        print(f"  {f['file']:<{width}}  {f['size']:>12,d} B  sha256 {f['sha256']}")
    if result["commit_url"]:
        print(f"commit: {result['commit_url']}")
    elif args.dry_run:
        print("dry run: nothing was uploaded.")
    return 0
