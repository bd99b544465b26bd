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

.PHONY: help venv book test test-unit test-notebooks test-build test-site notebooks student benchmarks clean

help:
	@echo "make book        build the website into _build/html (notebooks executed)"
	@echo "make test        the whole test suite (what CI runs)"
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

test: test-unit test-notebooks test-build test-site

test-unit: $(STAMP)
	$(PY) -m pytest tests xent --doctest-modules -n 2 --ignore=tests/test_site.py \
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

student: $(STAMP)
	$(PY) tools/make_student.py

benchmarks: $(STAMP)
	$(PY) benchmarks/accuracy.py
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/llm_loss.py

clean:
	rm -rf _build student .pytest_cache .coverage htmlcov
