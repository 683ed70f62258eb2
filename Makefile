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

.PHONY: setup book test lint unit nbval book-check execute student bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e ".[book,test,dev]"
	touch $@

## book: execute the chapters (cached in _build) and build the HTML book, warnings as errors
book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going --all
	@echo "The book is at $(CURDIR)/_build/html/index.html"

## test: lint, unit tests, every chapter under nbval, and a structural build of the book
test: lint unit nbval book-check

lint: $(STAMP)
	$(BIN)/ruff check .

unit: $(STAMP)
	$(BIN)/python -m pytest tests

# nbval runs on copies of the chapters that carry the reference outputs of the cells marked
# NBVAL_CHECK_OUTPUT (tools/nbval_references.json); the stored chapters have no outputs.
nbval: $(STAMP)
	rm -rf _build/nbval
	$(BIN)/python tools/nbval_references.py inject _build/nbval $(CHAPTERS)
	PYTHONPATH=tools $(BIN)/python -m pytest -p no:randomly -p nbval_output_timeout \
	    --nbval-lax --nbval-current-env \
	    --nbval-sanitize-with tools/nbval_sanitize.cfg _build/nbval

# The book built with execution off: broken references, citations or TOC entries fail.
book-check: $(STAMP)
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

## student: copies of the chapters with solutions removed, for a class
student: $(STAMP)
	$(BIN)/python -m diffusion_lite.student notebooks student $(if $(OVERWRITE),--overwrite)

bench: $(STAMP)
	$(BIN)/python tools/chapter_times.py $(CHAPTERS)

clean:
	rm -rf _build student
