# Two commands do everything on a fresh clone:
#   make book   build the website into _build/html, every notebook executed
#   make test   unit, property, oracle and doctests; nbval over every chapter, natively and
#               under another CPU configuration; every student copy to its end; a -W build
# and one for learners:
#   make lab    JupyterLab on your own copies of the exercises (student/)
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
# What nbval runs: every chapter, or `make test-notebooks NB=book/03_categorical_cross_entropy.ipynb`.
NB ?= book
NBVAL := -m pytest --nbval $(NB) --nbval-sanitize-with tests/nbval_sanitize.cfg \
    --nbval-cell-timeout=300
# Where `make student` and `make lab` put your copies, and extra arguments for JupyterLab,
# e.g. make lab LAB_ARGS="--no-browser --port=8899".
STUDENT_DIR ?= student
LAB_ARGS ?=

.PHONY: help venv book test test-lib test-unit test-notebooks test-notebooks-altcpu test-build \
    lint test-site notebooks student exercises lab assignments benchmarks clean

# What `make lint` checks and formats (ruff) beside type-checking the package (mypy).
LINT_PATHS := xent tests tools benchmarks

help:
	@echo "make lab         JupyterLab on your copies of the exercises (student/; your edits are kept)"
	@echo "make student     write your copies of the exercises into student/ (never overwrites your edits)"
	@echo "make book        build the website into _build/html (notebooks executed)"
	@echo "make test        the whole test suite (what CI runs): lint, unit, notebooks, build"
	@echo "make test-lib    the package alone, fast: unit tests and doctests of xent"
	@echo "make lint        ruff check, ruff format --check and mypy"
	@echo "make notebooks   re-execute every chapter and store its outputs (authors)"
	@echo "make exercises   regenerate exercises/, the published student copies (authors)"
	@echo "make benchmarks  print the accuracy, speed and memory tables"
	@echo "make venv        create .venv from requirements.txt (the other targets do it when needed)"

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

book: $(STAMP)
	$(JB) build . -W --keep-going

test: lint test-unit test-notebooks test-notebooks-altcpu test-build test-site

# The package alone: its unit, property and oracle tests and its doctests, in about a minute
# on one core. Not the course (notebooks, student copies, Binder files) nor the two-process
# run of xent.distributed; no coverage gate (make test-unit has it).
COURSE_TESTS := tests/test_student.py tests/test_binder.py tests/test_distributed.py \
	tests/test_check_assignments.py tests/test_lab.py tests/test_altcpu.py
test-lib: $(STAMP)
	$(PY) -m pytest tests xent --doctest-modules -q $(COURSE_TESTS:%=--ignore=%)

lint: $(STAMP)
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m ruff format --check $(LINT_PATHS)
	$(PY) -m mypy xent

# tests/ includes test_student.py, which runs every student copy to its end (-n 2 spreads them).
test-unit: $(STAMP)
	$(PY) -m pytest tests xent --doctest-modules -n 2 --ignore=tests/test_site.py \
	    --cov=xent --cov-report=term-missing:skip-covered --cov-fail-under=95

test-notebooks: $(STAMP)
	$(PY) $(NBVAL) -n 2 --dist loadfile

# The same regression under another CPU configuration (tools/altcpu.py: PyTorch's scalar
# kernels, oneDNN at SSE4.1, MKL's COMPATIBLE path, numpy without its AVX2/AVX-512 code, two
# threads), checked to take effect first: a stored output that only another machine would
# print differently fails here. Chapter authors: make test-notebooks-altcpu NB=book/NN_x.ipynb
# One notebook at a time: each kernel already runs two threads on the two cores, and two
# kernels of two spinning OpenBLAS threads each made it 10 to 20 times slower (176 s for one
# cell of Chapter 7 against 9 s alone).
test-notebooks-altcpu: $(STAMP)
	$(PY) tools/altcpu.py $(PY) $(NBVAL)

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
	$(PY) tools/sync_notebooks.py --check
	$(PY) tools/make_student.py --exercises --check

# The built site in headless Chromium (tests/test_site.py): every page offline, at 1280 and
# 390 px, light and dark, axe-core, no console error. Needs Debian's chromium (.ci/run
# installs it); without it this says so in one line and goes on, unless XENT_REQUIRE_BROWSER=1.
test-site: test-build
	@if $(PY) -c 'import sys; sys.path.insert(0, "tests"); import test_site; sys.exit(test_site.find_chromium() is None)'; then \
	    XENT_SITE_HTML=_build/html $(PY) -m pytest tests/test_site.py -q; \
	elif [ "$${XENT_REQUIRE_BROWSER:-0}" = 1 ]; then \
	    echo "test-site: FAILED, no Chromium (apt-get install chromium, or set CHROMIUM=/path)"; exit 1; \
	else \
	    echo "test-site: NOT RUN, no Chromium here (apt-get install chromium, or set CHROMIUM=/path)"; \
	fi

notebooks: $(STAMP)
	$(PY) tools/execute_notebooks.py $(NB)

# Your own copies, from the chapters: needs nothing but Python 3 (no .venv). A copy you have
# changed is kept as it is (the tool names it); delete or rename it to get a fresh one.
student:
	$(PYTHON) tools/make_student.py --out $(STUDENT_DIR)

# The published student copies (committed; Binder and Colab open them). `make test` fails
# when they are out of date: run this after changing a chapter.
exercises:
	$(PYTHON) tools/make_student.py --exercises

# The environment if needed (.venv), your copies (new chapters added, your changes kept),
# then JupyterLab on them, with jupyterlab-myst to render the exercises. Ctrl-C stops it.
lab: $(STAMP)
	$(PY) tools/make_student.py --out $(STUDENT_DIR)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(STUDENT_DIR) $(LAB_ARGS)

# otter-grader assignments (student notebook, solutions, autograder.zip) in assignments/<chapter>/
assignments: $(STAMP)
	$(PY) tools/make_assignments.py $(filter %.ipynb,$(NB))

benchmarks: $(STAMP)
	$(PY) benchmarks/accuracy.py
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/llm_loss.py

# Never student/: that is where learners work.
clean:
	rm -rf _build .pytest_cache .coverage htmlcov
