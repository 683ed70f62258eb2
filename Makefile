# Diffusion Models, Hands-On. `make book` and `make test` set up .venv on first use.
#
# TORCH_SPEC is the torch that setup installs when the venv has none. The default is the
# CPU build these project machines hold; on your own machine, for example:
#   make test TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu"
PYTHON     ?= python3
VENV       ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.installed
CHAPTERS   := $(sort $(wildcard notebooks/[0-9]*.ipynb))
NB         ?= $(CHAPTERS)

.PHONY: setup assets book test lint unit nbval site browser-check book-check execute portable student bench gpu-check gpu-wheels clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e ".[book,test,dev]"
	touch $@

# MathJax for the pages, from npm (book/offline pins it), so that the book typesets offline
ASSETS := _build/offline/static/mathjax/tex-chtml.js
assets: $(ASSETS)

$(ASSETS): book/offline/package.json book/offline/package-lock.json
	@command -v npm >/dev/null || { echo "assets: needs npm (Node.js) to fetch MathJax" >&2; exit 1; }
	rm -rf _build/offline && mkdir -p _build/offline/static
	cp book/offline/package.json book/offline/package-lock.json _build/offline/
	cd _build/offline && npm ci --no-audit --no-fund --silent
	cp -r _build/offline/node_modules/mathjax/es5 _build/offline/static/mathjax

## book: execute the chapters (cached in _build) and build the HTML book, warnings as errors
book: $(STAMP) $(ASSETS)
	$(BIN)/jupyter-book build . -W -n --keep-going --all
	@echo "The book is at $(CURDIR)/_build/html/index.html"

## test: lint, unit tests, every chapter under nbval, the book built from those runs, and
## the built book checked in a browser. Each chapter executes once.
test: lint unit nbval site browser-check

lint: $(STAMP)
	$(BIN)/ruff check .

# The fast tests on two workers of one thread each; those that start Jupyter kernels (marked
# slow) one after another in one process.
unit: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 -m "not slow" tests
	$(BIN)/python -m pytest -m slow tests

# nbval runs on copies of the chapters that carry the reference outputs of the cells marked
# NBVAL_CHECK_OUTPUT (tools/nbval_references.json); the stored chapters have no outputs. Two
# chapters run side by side, one thread each, and each executed chapter is kept in
# _build/executed for the book (`make site`).
nbval: $(STAMP)
	rm -rf _build/nbval _build/executed
	$(BIN)/python tools/nbval_references.py inject _build/nbval $(CHAPTERS)
	OMP_NUM_THREADS=1 PYTHONPATH=tools $(BIN)/python -m pytest -p no:randomly \
	    -p nbval_output_timeout -p nbval_executed --nbval-executed-dir _build/executed \
	    -n 2 --dist loadfile --nbval-lax --nbval-current-env \
	    --nbval-sanitize-with tools/nbval_sanitize.cfg _build/nbval

## site: the HTML book (_build/site/_build/html) from the chapters `make nbval` executed,
## warnings as errors
site: $(STAMP) $(ASSETS)
	$(BIN)/python tools/site_source.py _build/executed _build/site-src
	$(BIN)/jupyter-book build _build/site-src --path-output _build/site -W -n --keep-going --all -q

## browser-check: every page of the built book in headless Chromium (Debian's), offline;
## screenshots in _build/site/screenshots
browser-check: $(STAMP)
	command -v chromium >/dev/null || { command -v apt-get >/dev/null && \
	    apt-get install -y -qq chromium >/dev/null; } || \
	    { echo "browser-check: needs Debian's chromium (apt-get install chromium)" >&2; exit 1; }
	$(BIN)/python tools/check_site.py _build/site/_build/html _build/site/screenshots

# The book built with execution off, in seconds: broken references, citations or TOC entries
# fail. (`make site` is the full build.)
book-check: $(STAMP) $(ASSETS)
	mkdir -p _build
	$(BIN)/python -c "import yaml; c = yaml.safe_load(open('_config.yml')); \
	    c['execute']['execute_notebooks'] = 'off'; \
	    yaml.safe_dump(c, open('_build/config-structure.yml', 'w'))"
	$(BIN)/jupyter-book build . --config _build/config-structure.yml \
	    --path-output _build/structure -W -n --keep-going --all -q

## execute: run chapters (NB=notebooks/01_forward_process.ipynb for one), time them and refresh
## the reference outputs of cells marked NBVAL_CHECK_OUTPUT
execute: $(STAMP)
	$(BIN)/python tools/chapter_times.py --refresh $(NB)

## portable: regenerate colab/, the chapters in a form Colab and plain JupyterLab display
## (tests/test_portable_edition.py fails while it is stale)
portable: $(STAMP)
	$(BIN)/python tools/portable_edition.py

## student: copies of the chapters with solutions removed, for a class
student: $(STAMP)
	$(BIN)/python -m diffusion_lite.student notebooks student $(if $(OVERWRITE),--overwrite)

bench: $(STAMP)
	$(BIN)/python tools/chapter_times.py $(CHAPTERS)

## gpu-check: every chapter under nbval on this machine's GPU, chapter 5's MNIST cell on fake
## data and the U-Net benchmark, summarised in _build/gpu-check/summary.md (a dry run without
## a GPU). Not part of `make test`.
gpu-check:
	bash tools/gpu_check.sh _build/gpu-check

# Wheels for a GPU machine without network that has torch, numpy and pytest but no Jupyter
# stack: the rest of what gpu-check needs, for GPU_PYTHON (the Python beside the GPU's torch),
# in folders under 64 MiB each so that each can be carried on its own: jupyter (nbval, the
# kernel, ipywidgets, diffusers), science (scipy, scikit-learn) and plots (matplotlib), the last
# two of which many GPU images already hold. gpu-check installs only what the machine lacks.
# Never committed.
GPU_PYTHON ?= 3.12
GPU_WHEEL_ARGS = --only-binary=:all: --python-version $(GPU_PYTHON) --platform manylinux2014_x86_64 \
	--platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 --platform any
gpu-wheels: $(STAMP)
	rm -rf _build/gpu-wheels
	$(BIN)/pip download -q -d _build/gpu-wheels/science $(GPU_WHEEL_ARGS) scipy scikit-learn
	$(BIN)/pip download -q -d _build/gpu-wheels/plots $(GPU_WHEEL_ARGS) matplotlib
	$(BIN)/pip download -q -d _build/gpu-wheels/jupyter $(GPU_WHEEL_ARGS) nbval ipykernel nbclient \
	    ipywidgets tqdm pytest-xdist diffusers
	rm -f _build/gpu-wheels/*/numpy-* _build/gpu-wheels/*/torch-*
	du -sh _build/gpu-wheels/*

clean:
	rm -rf _build student
