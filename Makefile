# `make demo` and `make test` work on a fresh machine: each sets up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# glibc's default allocator returns memory to the OS after every large tensor;
# keeping it (no mmap, high trim threshold) makes eager PyTorch 2-4x faster here.
export GLIBC_TUNABLES ?= glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967296

.PHONY: setup demo test docs lint bench browser clean

setup: $(STAMP)

# One pip command for everything, so torch==2.13.0 is resolved together with
# the packages that depend on it.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Headless Chromium for the report and web-page tests (Debian packages).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: setup
	$(BIN)/instapop demo --out demo-out

test: setup browser
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mkdocs build --strict -d build/site
	$(BIN)/python -m pytest -q

# The docs site (mkdocs.yml, docs/) into build/site; strict: a broken link or anchor, or a page
# missing from the nav, fails. (Not --quiet: it hides the warnings that strict mode counts.)
docs: setup
	$(BIN)/mkdocs build --strict -d build/site

bench: setup
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-out bench-out build/site
