"""``docs/results.md`` from the results JSONs: one table per paper table, ours beside the paper's.

Full results (``docs/results/ROW.json``) fill the tables; where a row has only its quick (CI)
result (``docs/results/quick/ROW.json``), the table says *pending* and the quick run is listed
separately: quick numbers (128 images, one epoch) show that the row runs, not how well.

Each row gets a figure of domain-B test accuracy per epoch per algorithm (mean over seeds, as
the paper's Figure 9c); Table 6 rows also get accuracy against challenge level (Figure 13).
A row whose number differs from the paper's by more than 2 std gets a paragraph: the hand-written
``docs/results/notes/ROW.md`` (the measured cause, with the command that measures it) or, until
that exists, a placeholder. Rows still running (``status: partial``) are shown with the seeds
they have, marked as such.

Example:
    >>> print(format_row_list().splitlines()[0])
    Table 2: Model-based training on one dataset (test on domain B)
"""
from __future__ import annotations

import json
from pathlib import Path

from .plot import line_plot
from .rows import PAPER_COLUMNS, ROWS, TABLES, Row

__all__ = ["format_row_list", "write_report", "load_results", "differences", "ordering_claims", "seeds_done",
           "measured_wall_h"]

FULL_COMMAND = "nuisance-zoo reproduce ROW --seeds 3"

#: What a results JSON holds (appended to docs/results.md).
SCHEMA_DOC = [
    "## The results files", "",
    "`docs/results/ROW.json` (full) and `docs/results/quick/ROW.json` (CI size), schema "
    "`nuisance-zoo/reproduce/1`, written atomically after every unit:", "",
    "| key | what |", "|---|---|",
    "| `row`, `table`, `title`, `analogue`, `note` | the row (see `nuisance-zoo reproduce --list`) |",
    "| `command` | the command that produced it, e.g. `nuisance-zoo reproduce t2-gtsrb-brightness --seeds 3` |",
    "| `seeds`, `epochs`, `quick` | what was run |",
    "| `protocol` | training spec(s), test specs by name, classifier, optimiser, λ, and every column's "
    "algorithm, k and wrapper arguments (PGD: ε 0.3, step 0.01, 20 steps); resuming requires the same protocol |",
    "| `models` | how each model of natural variation was obtained (zoo / known names, or the fit's domains and recipe) |",
    "| `hardware`, `versions` | device, CPU count, torch threads, GPU name; nuisance-zoo, torch and Python versions |",
    "| `units` | `seedS/COLUMN` → `acc` (test domain → accuracy % after every epoch), `train_loss` per epoch, "
    "`wall_s` (this call), `train_s` (the trainer's clock, carried across resumes); or `status: not-applicable` with a reason |",
    "| `summary` | test domain → column → `final_mean`, `final_std`, `peak_mean`, `peak_std` (sample std over "
    "seeds), `n`, per-seed `final` and `peak` |",
    "| `paper` | the paper's numbers per test domain |",
    "| `status` | `complete`, `partial` (rerun the command to resume) or `data-unavailable` (with `reason`) |",
    "",
]


def _paper_line(row: Row) -> str:
    paper = row.paper
    if paper and all(isinstance(v, dict) for v in paper.values()):
        test = row.main_test
        paper = paper.get(test, {})
        prefix = f"{test}: "
    else:
        prefix = ""
    if not paper:
        return "paper: no numbers (analogue without a paper row)"
    return "paper: " + prefix + " · ".join(f"{c} {v:g}" for c, v in paper.items())


def format_row_list() -> str:
    """Every row by table, with its model and the paper's numbers (what ``--list`` prints)."""
    lines = []
    for table, caption in TABLES.items():
        lines.append(f"{table}: {caption}")
        for row in ROWS.values():
            if row.table != table:
                continue
            tag = " [analogue]" if row.analogue else ""
            tag += " [needs data download]" if row.optional_data else ""
            lines.append(f"  {row.name:28s} {row.title}{tag}")
            lines.append(f"  {'':28s} model: {row.model.describe()}; {len(row.columns)} classifiers; "
                         f"{row.epochs} epochs")
            lines.append(f"  {'':28s} {_paper_line(row)}")
        lines.append("")
    lines.append("Accuracies in %, on the first test domain. The paper reports peak accuracy over epochs "
                 "(selected on the test set); `reproduce` records final and peak.")
    return "\n".join(lines)


def load_checks(checks_dir: Path) -> tuple[list[dict], list[dict]]:
    """The complete mid-size checks in ``checks_dir``, and the unfinished ones (killed or still
    running: they hold only some units, and the command reproduce gave them, not their own)."""
    found = []
    for p in sorted(checks_dir.glob("*.json")):
        try:
            found.append(json.loads(p.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return ([c for c in found if c.get("status") == "complete"],
            [c for c in found if c.get("status") != "complete"])


def _unfinished_check_line(check: dict) -> str:
    """A note for a check without all its units: how far it got and the command that finishes it
    (a check resumes, so the same command continues a killed one)."""
    name = check["row"]
    protocol = check.get("protocol", {})
    total = len(check.get("seeds", [])) * len(protocol.get("columns", []))
    done = len(check.get("units", {}))
    return (f"- *{name}*: not finished ({done} of {total} units); its numbers appear here when "
            f"`python -m benchmarks.reproduce_checks {name}` completes it (a rerun resumes).")


def load_results(results_dir: str | Path) -> dict[str, dict]:
    """``{row: result}`` for the JSONs in ``results_dir`` (unknown or unreadable files skipped)."""
    out = {}
    for p in sorted(Path(results_dir).glob("*.json")):
        try:
            data = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if data.get("row") in ROWS:
            out[data["row"]] = data
    return out


def _cell(summary: dict, label: str, paper: float | None, n_seeds: int | None = None) -> str:
    """``peak ± std / final ± std (paper)``; a column with fewer seeds done than the run asked
    for says how many (one seed has no spread, so it shows no ±)."""
    s = summary.get(label)
    if not s:
        ours = "pending"
    elif s.get("n", 0) == 1:
        ours = f"{s['peak_mean']:.1f} / {s['final_mean']:.1f}"
    else:
        ours = f"{s['peak_mean']:.1f} ± {s['peak_std']:.1f} / {s['final_mean']:.1f} ± {s['final_std']:.1f}"
    if s and n_seeds and s.get("n", 0) < n_seeds:
        ours += f" [{s['n']} of {n_seeds} seeds]"
    theirs = f"{paper:g}" if paper is not None else "–"
    return f"{ours} ({theirs})"


def seeds_done(result: dict) -> tuple[int, int]:
    """``(fewest seeds done in any column of the main test, seeds asked for)``."""
    summ = result.get("summary", {}).get(result.get("main_test"), {})
    asked = len(result.get("seeds", []))
    done = min((s.get("n", 0) for s in summ.values()), default=0) if summ else 0
    if summ and len(summ) < len(result.get("protocol", {}).get("columns", [])):
        done = 0  # a column with no finished seed yet
    return done, asked


def measured_wall_h(result: dict) -> float:
    """Hours the finished units of a run took (training and evaluation), summed. A unit resumed
    after a kill has ``wall_s`` of its last call only; its ``train_s`` is the trainer's clock,
    which a checkpoint carries across resumes, so the larger of the two counts."""
    return sum(max(u.get("wall_s") or 0.0, u.get("train_s") or 0.0)
               for u in result.get("units", {}).values()) / 3600


def differences(result: dict, factor: float = 2.0) -> list[str]:
    """Columns of ``result`` whose peak mean differs from the paper by more than ``factor`` std
    (std over our seeds; at least 0.5 points, so a zero-spread result is not flagged for noise)."""
    test = result.get("main_test")
    paper = result.get("paper", {}).get(test, {})
    out = []
    for label, s in result.get("summary", {}).get(test, {}).items():
        if label in paper and abs(s["peak_mean"] - paper[label]) > factor * max(s["peak_std"], 0.5):
            spread = " (1 seed)" if s.get("n") == 1 else f" ± {s['peak_std']:.1f}"
            out.append(f"{label}: ours {s['peak_mean']:.1f}{spread}, paper {paper[label]:g}")
    return out


def ordering_claims(result: dict) -> dict[str, bool | None]:
    """Section 6's ordering claims on one row (None where a column is missing):
    model-based best > Vanilla and > every PGD column; MDA-5 ≥ MRT-1; MAT-10 below the best
    sampling method."""
    s = result.get("summary", {}).get(result.get("main_test"), {})
    peak = {k: v["peak_mean"] for k, v in s.items()}
    mb = [peak[c] for c in ("MRT-1", "MRT-10", "MDA-5", "MAT-10") if c in peak]
    sampling = [peak[c] for c in ("MRT-1", "MRT-10", "MDA-5") if c in peak]
    best = max(mb) if mb else None
    # Every PGD column counts (the paper's stated PGD, and the authors' code's where a row has it).
    pgd = [peak[c["label"]] for c in result.get("protocol", {}).get("columns", [])
           if c["algorithm"] == "pgd" and c["label"] in peak] or [peak[c] for c in ("PGD",) if c in peak]
    return {
        "model-based beats Vanilla": None if best is None or "Vanilla" not in peak else best > peak["Vanilla"],
        "model-based beats PGD": None if best is None or not pgd else best > max(pgd),
        "MDA-5 >= MRT-1": None if not {"MDA-5", "MRT-1"} <= set(peak) else peak["MDA-5"] >= peak["MRT-1"],
        "MAT-10 below best sampling": None if "MAT-10" not in peak or not sampling else peak["MAT-10"] < max(sampling),
    }


def _fig(result: dict, folder: Path, quick: bool) -> list[str]:
    """Write the row's figures into ``folder``; return their paths relative to docs/."""
    test = result["main_test"]
    names = []
    series = {}
    for col in result["protocol"]["columns"]:
        curves = [u["acc"][test] for u in result["units"].values()
                  if u["column"] == col["label"] and u.get("status") == "done"]
        if curves:
            n = min(len(c) for c in curves)
            series[col["label"]] = (list(range(1, n + 1)), [sum(c[e] for c in curves) / len(curves) for e in range(n)])
    if series:
        tag = " (quick: CI size, not comparable)" if quick else ""
        path = folder / f"{result['row']}.png"
        line_plot(series, f"{result['row']}: test accuracy on {test}{tag}", "epoch", "accuracy (%)", path)
        names.append(path)
    if result["table"] == "Table 6" and result.get("summary"):
        levels = sorted(int(t.split()[-1]) for t in result["summary"] if t.startswith("level"))
        lv = {}
        for label in series:
            ys = [result["summary"][f"level {L}"].get(label, {}).get("peak_mean") for L in levels]
            if all(y is not None for y in ys):
                lv[label] = (levels, ys)
        if lv:
            path = folder / f"{result['row']}-levels.png"
            line_plot(lv, f"{result['row']}: peak accuracy per challenge level", "challenge level", "accuracy (%)", path)
            names.append(path)
    return [str(p) for p in names]


def _estimates_section(folder: Path) -> list[str]:
    """The measured cost of each full row (``reproduce --estimate``), when estimates exist."""
    rows, total = [], 0.0
    for name in ROWS:
        p = folder / f"{name}.json"
        if not p.is_file():
            continue
        try:
            e = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        total += e["total_s"]
        hw = e.get("hardware", {})
        where = hw.get("gpu") or f"{hw.get('cpu_count')} CPU cores, {hw.get('torch_threads')} threads"
        if e.get("load_average"):
            where += f", load {e['load_average'][0]}"
        slowest = max(e["columns"].items(), key=lambda kv: kv[1]["unit_s"])
        # An estimate made before the row gained a column does not count it: say so.
        missing = [c.label for c in ROWS[name].columns if c.label not in e["columns"]]
        hours = f"{e['total_s'] / 3600:.1f}" + (f" without {', '.join(missing)}" if missing else "")
        rows.append(f"| {name} | {e['n_train']} | {e['epochs']} | {e['seeds']} | {hours} | "
                    f"{e['fit_s'] / 3600:.2f} | {slowest[0]} ({slowest[1]['unit_s'] / 3600:.2f} h per seed) | {where} |")
    if not rows:
        return []
    return ["## Cost of the full rows (measured estimate)", "",
            "`nuisance-zoo reproduce ROW --estimate` times a few training steps of every column on the row's "
            "full data, one evaluation and (for rows that fit G) a few fitting iterations, and multiplies out "
            "(`docs/results/estimates/ROW.json`). These are estimates, not runs; the load average while timing "
            "is given because a busier machine times slower.", "",
            "| row | training images | epochs | seeds | full row (h) | of it fitting G (h) | slowest column | measured on |",
            "|---|---|---|---|---|---|---|---|", *rows, "",
            f"All {len(rows)} estimated rows together: {total / 3600:.0f} h, one after another.", ""]


def write_report(results_dir: str | Path = "docs/results", out: str | Path = "docs/results.md") -> Path:
    """Write ``out`` (and the figures beside the JSONs) from ``results_dir`` and its ``quick/``."""
    results_dir, out = Path(results_dir), Path(out)
    notes_dir = results_dir / "notes"
    found = load_results(results_dir)
    full = {name: found[name] for name in ROWS if name in found}  # table order, as the tables above
    quick = load_results(results_dir / "quick")
    checks, unfinished = load_checks(results_dir / "checks")
    rel = lambda p: Path(p).resolve().relative_to(out.parent.resolve()).as_posix()  # noqa: E731
    md = ["# Reproducing the paper's Section 6 tables", "",
          "Generated by `nuisance-zoo reproduce --report` from `docs/results/*.json`; do not edit by hand.",
          "", "Each cell: **ours** as *peak / final* test accuracy, mean ± std over seeds, then the **paper**'s "
          "in brackets, in %. "
          "The paper reports *peak* accuracy over epochs, which selects the epoch on the test set and is "
          "optimistic for it; every JSON also records the final-epoch accuracy, which selects nothing. "
          "Rows marked *analogue* stand in for an experiment whose data is not available here: the "
          "paper's number beside them is that of the experiment they replace, for orientation only.", ""]
    if full:
        md += ["## Full runs", "", "Measured wall time: the finished units' training and evaluation, summed "
               "(rows run in the background, resumable; a partial row is rerun by the same command).", "",
               "| row | status | seeds done (all columns) | units done | wall so far (h) | measured on | command |",
               "|---|---|---|---|---|---|---|"]
        for name, res in full.items():
            done, asked = seeds_done(res)
            hw = res.get("hardware", {})
            threads = hw.get("torch_threads")
            where = hw.get("gpu") or f"{hw.get('cpu_count')} CPU cores, {threads} torch thread{'' if threads == 1 else 's'}"
            md.append(f"| {name} | {res.get('status')} | {done} of {asked} | {len(res.get('units', {}))} | "
                      f"{measured_wall_h(res):.2f} | {where} | `{res.get('command', '')}` |")
        md.append("")
    if not any(r.get("status") == "complete" for r in full.values()):
        md += [("**No full row is complete yet**: the partial rows above fill their cells as seeds finish. "
                if full else "**Full results are pending.** Only the quick (CI) runs exist so far (listed below). ") +
               f"Produce a full row with `{FULL_COMMAND}` (resumable: rerun the same command after a kill), "
               "a whole table with `nuisance-zoo reproduce --table 2 --device cuda` (full rows are GPU-sized: "
               "a full MNIST unit is 18,760 steps), or every row with `nuisance-zoo reproduce --all --seeds 3`; "
               "then `nuisance-zoo reproduce --report`. `nuisance-zoo reproduce ROW --estimate` measures what a "
               "full row would cost on your machine before you start it (see *Cost of the full rows*).",
               ""]
    figures: list[str] = []
    for table, caption in TABLES.items():
        rows = [r for r in ROWS.values() if r.table == table]
        md += [f"## {table}: {caption}", ""]
        md += ["| row | model | " + " | ".join(PAPER_COLUMNS) + " | other columns |",
               "|---|---|" + "---|" * (len(PAPER_COLUMNS) + 1)]
        for row in rows:
            res = full.get(row.name, {})
            # Table 6 reports every challenge level: one line per test domain with paper numbers.
            per_test = [t for t in row.tests if row.paper_for(t)] if row.table == "Table 6" else []
            asked = len(res.get("seeds", [])) or None
            for test in per_test or [row.main_test]:
                summ = res.get("summary", {}).get(test, {})
                paper = row.paper_for(test)
                cells = [_cell(summ, c, paper.get(c), asked) for c in PAPER_COLUMNS]
                extra = [c.label for c in row.columns if c.label not in PAPER_COLUMNS]
                extra_cells = "; ".join(f"{lab}: {_cell(summ, lab, None, asked).replace(' (–)', '')}" for lab in extra)
                name = row.name + (" *(analogue)*" if row.analogue else "")
                if per_test or row.table == "Table 6":
                    name += f", {test}"
                if res.get("status") == "data-unavailable":
                    name += " *(data unavailable)*"
                md.append(f"| {name} | {row.model.describe()} | " + " | ".join(cells) + f" | {extra_cells} |")
        md.append("")
        notes: dict[str, list[str]] = {}
        for row in rows:  # rows sharing a note are named together, once
            for text in (row.analogue, row.note):
                if text:
                    notes.setdefault(text, []).append(row.name)
        for text, names in notes.items():
            md.append(f"- *{', '.join(names)}*: {text}")
        for row in rows:  # where no full run has a cell yet, point to the checks that ran the row smaller
            ran = [c["row"] for c in checks if c.get("base") == row.name]
            if ran and not full.get(row.name, {}).get("summary"):
                md.append(f"- *{row.name}*: no full run yet; see the mid-size check{'s' * (len(ran) > 1)} "
                          f"{', '.join(ran)} below.")
        md.append("")
    # Honest paragraphs for full results only (a check is one seed at a smaller size).
    md += ["## Where we differ from the paper by more than 2 std", "",
           "Std is over our seeds (at least 0.5 points). Each cause below was measured, with the command "
           "that measures it; a row still running is flagged on the seeds it has, and says so.", ""]
    flagged = False
    for name, res in full.items():
        diffs = differences(res)
        if diffs:
            flagged = True
            done, asked = seeds_done(res)
            status = "" if res.get("status") == "complete" else f" *(partial: {done} of {asked} seeds in every column)*"
            md += [f"### {name}{status}", "", "- " + "\n- ".join(diffs), ""]
            note = notes_dir / f"{name}.md"
            md += [note.read_text().strip() if note.is_file()
                   else "*Cause: to be measured (not guessed) before this paragraph is filled in.*", ""]
    if not flagged:
        md += ["Pending the full runs." if not full else "No row differs by more than 2 std.", ""]
    md += ["## Section 6's ordering claims", ""]
    # Mid-size checks that run the model-based columns count too, named as checks: on the MNIST rows
    # they are the only evidence a CPU can afford.
    claim_checks = [c for c in checks if any(v is not None for v in ordering_claims(c).values())]
    if full or claim_checks:
        md += ["Peak accuracy means on the row's first test domain; *–*: a column it needs has no finished seed yet. "
               "A *check* is a mid-size run (see *Mid-size checks*), not the full row.", "",
               "| row | seeds done | " + " | ".join(ordering_claims({}).keys()) + " |", "|---|---|" + "---|" * 4]
        claim_rows = list(full.items())
        claim_rows += [(f"check {c['row']} ({'of ' + c['base'] + ', ' if c.get('base') else ''}{c['epochs']} epochs)", c)
                       for c in claim_checks]
        for name, res in claim_rows:
            cl = ordering_claims(res)
            done, asked = seeds_done(res)
            md.append(f"| {name} | {done} of {asked} | "
                      + " | ".join({True: "holds", False: "**fails**", None: "–"}[v] for v in cl.values()) + " |")
    else:
        md.append("Pending the full runs: model-based beats Vanilla and PGD on every row; MDA-5 vs MRT-1; "
                  "MAT's weakness on learned models.")
    md.append("")
    md += ["## Figures", "",
           "Test accuracy on the row's first test domain after every epoch, mean over seeds (as the paper's "
           "Figure 9c); Table 6 rows also plot peak accuracy against challenge level (Figure 13). Until the full "
           "runs exist these come from the quick runs (one epoch: a single point per algorithm).", ""]
    for name in ROWS:
        res, is_quick = (full[name], False) if name in full else (quick.get(name), True)
        if not res or not res.get("units"):
            continue
        folder = results_dir / ("quick" if is_quick else "")
        for p in _fig(res, folder, is_quick):
            figures.append(p)
            md.append(f"![{name}]({rel(p)})")
    md.append("")
    if checks or unfinished:
        md += ["## Mid-size checks", "",
               "Smaller than a full row, larger than quick: enough data for the numbers to mean something "
               "(`docs/results/checks/`; peak accuracy %, one seed unless stated).", "",
               "| check | training data | epochs | seeds | test | accuracies |", "|---|---|---|---|---|---|"]
        for c in checks:
            for test, cols in c.get("summary", {}).items():
                accs = ", ".join(f"{k} {v['peak_mean']:.1f}" for k, v in cols.items())
                md.append(f"| {c['row']} | `{' + '.join(c['protocol']['train'])}` | {c['epochs']} | "
                          f"{len(c['seeds'])} | {test} | {accs} |")
        md.append("")
        md += [f"- *{c['row']}*: {c.get('question', '')} `{c.get('command', '')}`" for c in checks]
        md += [_unfinished_check_line(c) for c in unfinished]
        md.append("")
    md += _estimates_section(results_dir / "estimates")
    md += ["## Quick (CI) runs", "",
           "`nuisance-zoo reproduce --all --quick`: every row at CI size (128 training and test images, one "
           "epoch, one seed, k ≤ 2, PGD 2 steps, 2-iteration fits). They check that each row runs end to "
           "end; their accuracies mean nothing.", "",
           "| row | status | units | wall (s) | hardware |", "|---|---|---|---|---|"]
    total = 0.0
    for name in ROWS:
        res = quick.get(name)
        if not res:
            md.append(f"| {name} | not run | | | |")
            continue
        hw = res.get("hardware", {})
        wall = res.get("timing", {}).get("run_s", "")
        total += float(wall or 0)
        reason = res.get("reason", "")
        status = res.get("status", "") + (f" ({reason[:90]}…)" if reason else "")
        md.append(f"| {name} | {status} | {len(res.get('units', {}))} | {wall} | "
                  f"{hw.get('cpu_count')} CPU, {hw.get('gpu') or 'no GPU'} |")
    md.append("")
    md += [f"Total: {total:.0f} s (rows run one after another in one process; each row's wall time counts its "
           "data loading, model fitting and units).", ""]
    md += SCHEMA_DOC
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(md))
    return out
