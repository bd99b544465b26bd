# Two commands do everything on a fresh clone:
#   make book   build the website into _build/html, every notebook executed
#   make test   unit, property, oracle and doctests; nbval over every chapter; a -W build
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JB := $(VENV)/bin/jupyter-book
# One BLAS/OpenMP thread: the notebooks' printed numbers do not depend on the core count.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help venv book test test-lib test-unit test-notebooks test-build lint notebooks student benchmarks clean

# What `make lint` checks and formats (ruff) beside type-checking the package (mypy).
LINT_PATHS := xent tests tools benchmarks

help:
	@echo "make book        build the website into _build/html (notebooks executed)"
	@echo "make test        the whole test suite (what CI runs): lint, unit, notebooks, build"
	@echo "make test-lib    the package alone, fast: unit tests and doctests of xent"
	@echo "make lint        ruff check, ruff format --check and mypy"
	@echo "make notebooks   re-execute every chapter and store its outputs (authors)"
	@echo "make student     write student copies of the notebooks into student/"
	@echo "make benchmarks  print the accuracy, speed and memory tables"

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

book: $(STAMP)
	$(JB) build . -W --keep-going

test: lint test-unit test-notebooks test-build

# The package alone: its unit, property and oracle tests and its doctests, in about a minute
# on one core. Not the course (notebooks, student copies, Binder files) nor the two-process
# run of xent.distributed; no coverage gate (make test-unit has it).
COURSE_TESTS := tests/test_student.py tests/test_binder.py tests/test_distributed.py
test-lib: $(STAMP)
	$(PY) -m pytest tests xent --doctest-modules -q $(COURSE_TESTS:%=--ignore=%)

lint: $(STAMP)
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m ruff format --check $(LINT_PATHS)
	$(PY) -m mypy xent

test-unit: $(STAMP)
	$(PY) -m pytest tests xent --doctest-modules -n 2 \
	    --cov=xent --cov-report=term-missing:skip-covered --cov-fail-under=95

test-notebooks: $(STAMP)
	$(PY) -m pytest --nbval book --nbval-sanitize-with tests/nbval_sanitize.cfg \
	    --nbval-cell-timeout=300 -n 2 --dist loadfile

# The website must build with no warning at all (-W: broken references, bad MyST, citations).
# nbval above has just executed every chapter in a fresh kernel and checked that the stored
# outputs are exactly what the code produces, so this build renders the stored outputs instead
# of executing every notebook a second time (`make book` does execute them).
test-build: $(STAMP)
	rm -rf _build/html _build/.doctrees _build/test-config
	mkdir -p _build/test-config
	sed -e 's/execute_notebooks: force/execute_notebooks: "off"/' _config.yml > _build/test-config/_config.yml
	grep -q 'execute_notebooks: "off"' _build/test-config/_config.yml
	$(JB) build . -W --keep-going --config _build/test-config/_config.yml
	$(PY) tools/sync_bootstrap.py --check

notebooks: $(STAMP)
	$(PY) tools/execute_notebooks.py $(NB)

student: $(STAMP)
	$(PY) tools/make_student.py

benchmarks: $(STAMP)
	$(PY) benchmarks/accuracy.py
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/llm_loss.py

clean:
	rm -rf _build student .pytest_cache .coverage htmlcov
