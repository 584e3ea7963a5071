"""The measurements behind docs/results.md's causes: benchmarks.reproduce_checks and benchmarks.pgd_gap."""
from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from benchmarks.pgd_gap import nearest_other_class, pgd_displacement
from benchmarks.reproduce_checks import CHECKS, main, run_check
from nuisance_zoo.reproduce.rows import AUTHORS_PGD, ROWS
from nuisance_zoo.reproduce.run import protocol_for
from nuisance_zoo.training import PGDWrapper
from tests.conftest import need_data


def test_every_check_is_its_row_with_the_named_change():
    for name, check in CHECKS.items():
        row = check.row(name)
        base = ROWS[check.base]
        assert row.name == name and row.model == base.model
        changed = {f for f in ("train", "tests", "columns", "num_classes", "classifier")
                   if getattr(row, f) != getattr(base, f)}
        assert changed and changed <= set(check.changes), name
        protocol_for(row, False, check.epochs or row.epochs, "cpu")  # a valid protocol
    assert CHECKS["gtsrb-brightness-43-classes"].row("x").num_classes == 43


def test_list_names_every_check_and_its_question(capsys):
    main(["--list"])
    out = capsys.readouterr().out
    for name, check in CHECKS.items():
        assert f"{name}: {check.question}" in out


def _authors_pgd_step(model, x, y, steps, alpha=0.01, eps=8 / 255):
    """The update of the authors' public code, written out: raw gradient of the batch-mean loss."""
    delta = torch.zeros_like(x, requires_grad=True)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x + delta), y)
        (grad,) = torch.autograd.grad(loss, delta)
        delta = (delta + alpha * grad).clamp(-eps, eps).detach().requires_grad_(True)
    return (x + delta).detach()


@pytest.mark.parametrize("steps", [1, 10])
def test_authors_pgd_settings_reproduce_the_authors_update(steps):
    torch.manual_seed(0)
    # Large weights so that some coordinates reach the ε bound within the steps.
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5)).double()
    with torch.no_grad():
        model[1].weight.mul_(400.0)
    x = (torch.rand(64, 3, 4, 4, dtype=torch.float64) * 0.6 + 0.2)  # away from 0 and 1: no clamping
    y = torch.randint(0, 5, (64,))
    kwargs = dict(AUTHORS_PGD, steps=steps)
    ours = PGDWrapper(model, image_shape=(3, 4, 4), **kwargs).search(x, y)[0]
    theirs = _authors_pgd_step(model, x, y, steps)
    assert torch.allclose(ours, theirs, atol=1e-10)
    moved = (ours - x).abs()
    assert moved.max() > 1e-4 and moved.max() <= 8 / 255 + 1e-12
    if steps == 10:
        assert math.isclose(moved.max().item(), 8 / 255, rel_tol=1e-9)


def test_nearest_other_class_distances():
    x = torch.zeros(4, 1, 1, 2)
    x[1, 0, 0] = torch.tensor([0.1, 0.0])   # class 0, near image 0
    x[2, 0, 0] = torch.tensor([0.0, 0.5])   # class 1
    x[3, 0, 0] = torch.tensor([0.9, 0.9])   # class 1
    y = torch.tensor([0, 0, 1, 1])
    d = nearest_other_class(x, y, chunk=3)
    assert torch.allclose(d, torch.tensor([0.5, 0.5, 0.5, 0.9]))


def test_pgd_displacement_reports_the_ball_and_accuracy():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    x, y = torch.rand(70, 3, 2, 2), torch.randint(0, 3, (70,))
    res = pgd_displacement(model, x, y, eps=0.1, step_size=0.05, steps=3)
    assert 0 < res["mean_abs_delta"] <= res["max_abs_delta"] <= 0.1 + 1e-6
    assert res["acc_adv"] <= res["acc_clean"]
    assert not model.training


def test_a_check_runs_through_reproduce_and_records_its_own_command(tmp_path):
    root = need_data("gtsrb")
    res = run_check("gtsrb-contrast-pgd-authors-code", str(root), progress=False, quick=True, out=tmp_path)
    saved = json.loads((tmp_path / "gtsrb-contrast-pgd-authors-code.json").read_text())
    assert saved["command"].startswith("python -m benchmarks.reproduce_checks gtsrb-contrast-pgd-authors-code")
    assert saved["question"] == CHECKS["gtsrb-contrast-pgd-authors-code"].question
    assert saved["base"] == "t2-gtsrb-contrast"
    (col,) = saved["protocol"]["columns"]
    assert col["label"] == "PGD (authors' code)" and col["kwargs"]["sign"] is False
    assert res["status"] == "complete"
