"""Paper-vs-ours tables. The papers' numbers live in one CSV, each row with its source.

`paper_results.csv` columns: method, dataset, setting, value (accuracy in % or MSE),
paper (authors and year, as cited in book/references.bib), table (where in the paper
the number is printed) and protocol (for image datasets: the class split and augmentation
behind the number, since the Omniglot papers do not all share one).
"""
import math
from importlib import resources

import pandas as pd

from .notebook import smoke_mode


def paper_numbers(method=None, dataset=None):
    """The papers' numbers, optionally only one method's and one dataset's."""
    with resources.files("mlcore").joinpath("paper_results.csv").open() as csv:
        table = pd.read_csv(csv, keep_default_na=False, na_values={"value": [""]})
    if method is not None:
        table = table[table["method"] == method]
    if dataset is not None:
        table = table[table["dataset"] == dataset]
    return table.reset_index(drop=True)


def compare(ours, dataset, our_dataset, decimals=1, unpublished=()):
    """Put our results next to the papers' for the same method and setting.

    `ours` is a DataFrame with columns method, setting, mean, ci95 (from `ml.evaluate`);
    `dataset` names the papers' dataset (e.g. "Omniglot"), `our_dataset` ours. Every row of
    `ours` must have a paper number, so a typo in a method or setting name fails loudly;
    only the methods listed in `unpublished` may lack one (shown as "—").
    """
    paper = paper_numbers(dataset=dataset)
    merged = ours.merge(paper, on=["method", "setting"], how="left", validate="one_to_one")
    missing = merged[merged["value"].isna() & ~merged["method"].isin(unpublished)]
    if len(missing):
        pairs = list(zip(missing["method"], missing["setting"]))
        raise ValueError(f"no {dataset} number in paper_results.csv for {pairs}; add the row "
                         "with its source, fix the method/setting name, or pass the method "
                         "in `unpublished`.")
    number = f"{{:.{decimals}f}}".format
    table = pd.DataFrame({
        "method": merged["method"], "setting": merged["setting"],
        f"paper ({dataset})": [number(v) if v == v else "—" for v in merged["value"]],
        f"ours ({our_dataset})": [f"{number(mean)} ± {number(ci95)}"
                                  for mean, ci95 in zip(merged["mean"], merged["ci95"])],
        "source": [f"{p}, {t}" if p == p else "not reported for this setting"
                   for p, t in zip(merged["paper"], merged["table"])],
        "paper's protocol": merged["protocol"].fillna("—"),
    })
    return table if paper["protocol"].str.len().any() else table.drop(columns="paper's protocol")


def score_table(ours, decimals=1):
    """Our scores as a table: a row per method, a column per setting, cells "mean ± ci95".

    `ours` has columns method, setting, mean, ci95; rows and columns keep the order in which
    they first appear, and a setting a method was not run on shows "—".
    """
    number = f"{{:.{decimals}f}}".format
    cells = ours.assign(score=[f"{number(m)} ± {number(c)}"
                               for m, c in zip(ours["mean"], ours["ci95"])])
    table = cells.pivot(index="method", columns="setting", values="score")
    return table.loc[ours["method"].unique(), ours["setting"].unique()].fillna("—")


def check(claim, measured, threshold, above=True, needs_training=True):
    """One row of a chapter's checks table: the claim holds if `measured` is above
    `threshold` (or below it, with `above=False`).

    `needs_training=False` marks a claim that holds without a trained model (a protocol, a
    memory cost): a smoke run asserts it too, while it only shows the others (see `checks`).
    """
    passed = measured > threshold if above else measured < threshold
    return {"claim": claim, "measured": _number(measured),
            "threshold": f"{'>' if above else '<'} {_number(threshold)}", "pass": bool(passed),
            "finite": math.isfinite(float(measured)), "needs_training": needs_training}


def checks(rows):
    """Show the table of what a chapter checked (claim, measured, threshold, pass), then
    fail with one AssertionError that lists every claim that did not hold.

    `rows` come from `check`, or are dicts with the same four keys. The table is displayed
    first, so that the reader sees which rows failed. In a smoke run (`MLCORE_SMOKE=1`: a
    few steps, nothing trained) the claims that need training are shown as "not asserted",
    and only their measurements must be finite numbers.
    """
    table = pd.DataFrame(rows, columns=["claim", "measured", "threshold", "pass", "finite",
                                        "needs_training"])
    table = table.fillna({"finite": True, "needs_training": True}).astype(
        {"pass": bool, "finite": bool, "needs_training": bool})
    shown_only = table["needs_training"] & smoke_mode()
    table["pass"] = table["pass"].where(~shown_only, table["finite"])  # smoke: a number will do
    marks = [("not asserted (smoke run)" if ok else "✗ NOT FINITE") if only
             else ("✓" if ok else "✗ FAILED") for ok, only in zip(table["pass"], shown_only)]
    _display(table[["claim", "measured", "threshold"]].assign(**{"pass": marks}))
    failed = table[~table["pass"]]
    if len(failed):
        lines = [f"  {r.claim}: measured {r.measured}, needed "
                 f"{r.threshold if r.finite else 'a finite number'}" for r in failed.itertuples()]
        raise AssertionError(f"{len(failed)} of {len(table)} checks failed:\n" + "\n".join(lines))


def _display(table):
    try:
        from IPython.display import display
    except ImportError:  # outside IPython: nothing to show
        return
    styled = table.style.hide(axis="index")
    if smoke_mode():
        styled = styled.set_caption("Smoke run (MLCORE_SMOKE=1): a few steps of each loop, so "
                                    "the claims that need training are not asserted.")
    display(styled)


def _number(value):
    value = float(value)
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
