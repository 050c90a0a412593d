# The book's two commands (see README.md). Both set up .venv first; re-runs reuse it.
#   make book   execute every notebook in fast mode and render HTML into _build/html
#   make assignments   (no new setup) each assignment's student notebook and autograder zip,
#               from assignments/NN_slug.ipynb into _build/assignments/NN_slug/
#   make test   unit tests (with a smoke run of every chapter's full mode), then every
#               notebook under nbval
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
VENDOR := book/_static/vendor
# Chapter 01 reads real Omniglot from $MLCORE_OMNIGLOT (default: the data cache, downloaded
# when online); where a sample lies beside the repository (this project's machines), use it.
export MLCORE_OMNIGLOT ?= $(wildcard $(CURDIR)/../shared/data/omniglot)

.PHONY: book test assignments vendor clean

# The test and build commands read standard input from /dev/null: where a run has none (CI
# runs without one), IPython's kernels and pytest's capture fail on the closed stream.
book: $(READY) vendor
	$(BIN)/python -c "import mlcore; mlcore.data.load_glyphs()"  # build the data cache once
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . --builder html -W --keep-going </dev/null

test: $(READY)
	$(BIN)/python tools/check_notebooks_stripped.py
	$(BIN)/ruff check mlcore tests tools benchmarks book/_ext assignments/*.py
	$(BIN)/python -m pytest tests </dev/null
	$(BIN)/python -m pytest --nbval-lax -p no:cacheprovider notebooks/[0-9][0-9]_*.ipynb </dev/null

assignments: $(READY)
	rm -rf _build/assignments
	for source in assignments/[0-9][0-9]_*.ipynb; do \
	  $(BIN)/otter assign $$source _build/assignments/$$(basename $$source .ipynb) </dev/null || exit 1; \
	done

$(READY): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(READY)

# MathJax and the widget manager, copied into the site so it reads offline.
# Without network the book falls back to the CDN (see book/_ext/offline_assets.py).
vendor: $(READY)
	$(BIN)/python tools/vendor_assets.py $(VENDOR)

clean:
	rm -rf _build $(VENV) $(VENDOR)
