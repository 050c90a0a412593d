"""The book's structure: table of contents, chapter template, citations, the two commands."""
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BIB_KEYS = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "book/references.bib").read_text(), re.M))


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


def cells(notebook):
    return json.loads(notebook.read_text())["cells"]


def source(cell):
    return "".join(cell["source"])


def tagged(notebook, tag):
    return [c for c in cells(notebook) if tag in c.get("metadata", {}).get("tags", [])]


def test_toc_lists_every_chapter_in_file_order_and_every_file_exists():
    files = toc_files()
    chapters = [f for f in files if f.startswith("notebooks/")]
    assert chapters == [f"notebooks/{nb.stem}" for nb in NOTEBOOKS]
    for f in files:
        assert (ROOT / f"{f}.md").exists() or (ROOT / f"{f}.ipynb").exists(), f


def test_results_page_pastes_every_chapter_table():
    results = (ROOT / "book/results.md").read_text()
    for nb in NOTEBOOKS:
        assert f":doc: ../notebooks/{nb.name}" in results, nb.name
        assert any('ml.glue("results_table"' in source(c) for c in cells(nb)), nb.name


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_control_characters_in_cells(notebook):
    """A lost backslash (a Python string turning "\\alpha" into BEL + "lpha") shows here."""
    for cell in cells(notebook):
        bad = [ch for ch in source(cell) if ord(ch) < 32 and ch != "\n"]
        assert not bad, (bad, source(cell)[:80])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_glued_numbers_have_valid_formats(notebook):
    """{glue:text}`name:.1f` formats a number; a typo like `.1f}` fails only in the build."""
    prose = "".join(source(c) for c in cells(notebook) if c["cell_type"] == "markdown")
    for spec in re.findall(r"\{glue:text\}`[^`:]+:?([^`]*)`", prose):
        format(1234.5, spec)  # raises ValueError on an invalid specifier


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_follows_the_template(notebook):
    all_cells = cells(notebook)
    title = source(all_cells[0])
    number = int(notebook.name[:2])
    assert title.startswith(f"# {number}. ")
    assert f"notebooks/{notebook.name}" in title  # the Colab badge opens this very notebook
    colab = tagged(notebook, "remove-cell")[0]
    assert "google.colab" in source(colab) and "torch" not in source(colab).split("install")[-1]
    assert any("ml.setup(" in source(c) for c in all_cells[:4])
    parameters = tagged(notebook, "parameters")
    assert len(parameters) == 1 and "FULL = ml.full_mode()" in source(parameters[0])
    prose = "\n".join(source(c) for c in all_cells if c["cell_type"] == "markdown")
    for heading in ("## Learning goals", "## Summary", "## Exercises", "## References"):
        assert heading in prose, heading
    assert "{exercise}" in prose and "{solution}" in prose and ":class: dropdown" in prose
    assert "{glue:text}" in prose and "prf:algorithm" in prose
    assert any("assert_close" in source(c) for c in all_cells)        # from scratch, checked
    assert any("ml.meta_train(" in source(c) for c in all_cells)  # the one training loop
    assert any("widgets." in source(c) for c in all_cells)
    # what the chapter checked: one visible table, its input hidden, thresholds for both modes
    checked = [c for c in tagged(notebook, "remove-input") if "ml.report.checks(" in source(c)]
    assert len(checked) == 1 and "FULL" in source(checked[0])
    assert "## What this chapter checked" in prose
    assert not [c for c in tagged(notebook, "remove-cell") if "assert " in source(c)]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_stay_within_twelve_lines(notebook):
    for cell in cells(notebook):
        if cell["cell_type"] == "code":
            assert len(source(cell).strip().splitlines()) <= 12, source(cell)[:80]


def test_every_citation_is_in_references_bib():
    texts = [p.read_text() for p in (ROOT / "book").glob("*.md")] + \
            [source(c) for nb in NOTEBOOKS for c in cells(nb)]
    cited = {key.strip() for text in texts
             for keys in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text) for key in keys.split(",")}
    assert cited and cited <= BIB_KEYS, cited - BIB_KEYS


def test_bibliography_entries_are_complete():
    entries = re.split(r"\n(?=@)", (ROOT / "book/references.bib").read_text().strip())
    for entry in entries:
        for field in ("title", "year"):
            assert re.search(rf"^\s*{field}\s*=", entry, re.M), entry[:60]
        assert re.search(r"^\s*(author|editor)\s*=", entry, re.M), entry[:60]
        assert re.search(r"^\s*(journal|booktitle|publisher|school)\s*=", entry, re.M), entry[:60]


def test_notebooks_are_committed_without_outputs():
    sys.path.insert(0, str(ROOT / "tools"))
    from check_notebooks_stripped import unstripped
    assert all(not unstripped(nb) for nb in NOTEBOOKS)


def test_readme_has_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines()
          if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))]
    assert ci == ["make test"]


def test_every_chapter_has_its_assignment_and_the_instructors_page_lists_it():
    assignments = sorted((ROOT / "assignments").glob("[0-9][0-9]_*.ipynb"))
    assert {nb.name[:2] for nb in NOTEBOOKS} == {a.name[:2] for a in assignments}
    page = (ROOT / "book/instructors.md").read_text()
    assert "book/instructors" in toc_files()
    for assignment in assignments:
        assert f"| {assignment.name[:2]} " in page, f"{assignment.name} missing from the table"


def test_image_chapters_take_their_dataset_from_the_parameters_cell():
    """One switch picks glyphs or real Omniglot (`DATASET`, from `ml.image_dataset()`); only a
    section that needs the glyphs' templates (zero-shot prototypes) loads the glyphs itself,
    and a part that compares the two datasets loads both by name."""
    for notebook in NOTEBOOKS:
        code = "\n".join(source(c) for c in cells(notebook) if c["cell_type"] == "code")
        if not re.search(r"ml\.data\.(EpisodeSampler|SequenceSampler|PairSampler)\(", code):
            continue
        compares_both = 'load_images("omniglot"' in code and 'load_images("glyphs"' in code
        parameters = source(tagged(notebook, "parameters")[0])
        assert compares_both or "DATASET = 0, ml.image_dataset()" in parameters, notebook.name
        assert compares_both or "ml.data.load_images(DATASET" in code, notebook.name
        assert "ml.data.load_glyphs(" not in code or "load_glyph_templates(" in code, notebook.name
