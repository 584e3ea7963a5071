"""`nuisance-zoo reproduce`: --list, one-line errors; the row table and Table 7's architectures."""
from __future__ import annotations

import json

import pytest
import torch

from nuisance_zoo.cli import main
from nuisance_zoo.reproduce import PAPER_COLUMNS, ROWS, TABLES


def test_list_shows_every_row_with_its_paper_numbers(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for table in TABLES:
        assert table in out
    lines = out.splitlines()
    first = {line.split()[0]: i for i, line in enumerate(lines) if line.startswith("  ") and line.split()}
    for row in ROWS.values():
        assert row.name in first, row.name
        line = lines[first[row.name] + 2]  # name + title, model, paper
        assert line.strip().startswith("paper:"), line
        if not row.paper_for(row.main_test):
            assert "no numbers" in line
        for col, value in row.paper_for(row.main_test).items():
            assert f"{col} {value:g}" in line, (row.name, col)


def test_rows_cover_the_issue():
    tables = {r.table for r in ROWS.values()}
    assert tables == set(TABLES)
    assert {"t2-mnist-gray-rgb", "t2-mnist-blue-red", "t2-gtsrb-contrast", "t2-gtsrb-brightness",
            "t3-mnist-half", "t3-mnist-one-red", "f11-gtsrb-bright-contrast", "t5-letters",
            "t7-a", "t7-b", "t7-c", "t7-d", "t7-resnet18"} <= set(ROWS)
    assert {f"t6-{c}" for c in ("snow", "haze", "rain", "shadow", "dirty-lens", "decolorization")} <= set(ROWS)
    for row in ROWS.values():
        labels = [c.label for c in row.columns]
        assert labels[:6] == list(PAPER_COLUMNS), row.name
        assert len(set(labels)) == len(labels)
        for c in row.columns:
            assert c.model == "main" or c.model in row.extra_models, (row.name, c.label)
    # Each learned Table 2 row has an MDA-5 column over the closest known model.
    for name in ("t2-mnist-blue-red", "t2-gtsrb-contrast", "t2-gtsrb-brightness"):
        assert any(c.label.startswith("MDA-5 (known") for c in ROWS[name].columns)
    # The paper's numbers as printed in its tables.
    assert ROWS["t2-mnist-blue-red"].paper["MAT-10"] == 91.8
    assert ROWS["t3-mnist-one-red"].paper == {"Vanilla": 9.8, "PGD": 9.8, "MRT-1": 97.5, "MRT-10": 97.4, "MDA-5": 97.4}
    assert ROWS["t6-haze"].paper_for("level 5")["MDA-5"] == 62.5
    assert ROWS["t7-c"].paper["MAT-10"] == 32.1
    # Rows on data this project does not have say what they stand in for.
    for name in ("f11-gtsrb-bright-contrast", "t5-letters", "t6-snow", "t7-a"):
        assert ROWS[name].analogue


def test_unknown_row_is_one_line_with_close_matches(capsys):
    assert main(["reproduce", "t2-gtsrb-brightnes"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "unknown row 't2-gtsrb-brightnes'" in err and "t2-gtsrb-brightness" in err and "--list" in err


def test_no_row_is_one_line(capsys):
    assert main(["reproduce"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--list" in err


def test_other_protocol_is_one_line(capsys, tmp_path):
    (tmp_path / "t2-mnist-gray-rgb.json").write_text(json.dumps({"row": "t2-mnist-gray-rgb", "protocol": {"epochs": 99}}))
    assert main(["reproduce", "t2-mnist-gray-rgb", "--quick", "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--no-resume" in err


@pytest.mark.parametrize("name,hidden", [("A", [128]), ("B", [256, 64]), ("C", [128]), ("D", [256, 64])])
def test_table7_architectures_follow_the_notation(name, hidden):
    from nuisance_zoo.reproduce.architectures import build_architecture

    net = build_architecture(name, num_classes=7, in_chans=3, input_size=32)
    convs = [m.out_channels for m in net if isinstance(m, torch.nn.Conv2d)]
    linears = [m.out_features for m in net if isinstance(m, torch.nn.Linear)]
    assert convs == ([32, 64] if name in "AB" else [32, 64, 128])
    assert linears == hidden + [7]
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 7)


def test_architecture_c_is_the_papers_cnn():
    from nuisance_zoo.reproduce.architectures import build_architecture
    from nuisance_zoo.training.classifiers import paper_cnn

    c, p = build_architecture("C", 10, 3, 32), paper_cnn(10, 3, 32)
    assert [type(m) for m in c] == [type(m) for m in p]
    assert [t.shape for t in c.state_dict().values()] == [t.shape for t in p.state_dict().values()]


def test_every_spec_parses_and_every_model_name_exists():
    import nuisance_zoo as nz
    from nuisance_zoo.data import parse_spec
    from nuisance_zoo.known import CURE_TSR_LEVELS

    # Rows may name experimental zoo models (the paper's learned shifts): by their plain name too.
    names = set(nz.list_models()) | {n.removeprefix("experimental/") for n in nz.list_models(experimental=True)}
    for row in ROWS.values():
        recipes = [row.model, *row.extra_models.values()]
        specs = list(row.train) + list(row.tests.values())
        specs += [s for r in recipes if r.kind == "fit" for s in (r.domain_a, r.domain_b)]
        for spec in specs:
            if spec.startswith("letters:"):
                continue
            parsed = parse_spec(spec)
            if "challenge" in parsed.options:
                assert parsed.options["challenge"] in CURE_TSR_LEVELS, (row.name, spec)
        for r in recipes:
            assert r.kind in ("load", "fit")
            assert set(r.names) <= names, (row.name, r.names)


def test_rows_of_table_and_unknown_table(capsys):
    from nuisance_zoo.reproduce import rows_of_table

    assert rows_of_table("2") == rows_of_table("Table 2") == rows_of_table("t2") == [
        "t2-mnist-gray-rgb", "t2-mnist-blue-red", "t2-gtsrb-contrast", "t2-gtsrb-brightness"]
    assert rows_of_table("f11") == rows_of_table("Figure 11") == ["f11-gtsrb-bright-contrast"]
    assert len(rows_of_table("6")) == 6
    assert main(["reproduce", "--table", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown table '4'" in err and "Table 2" in err
