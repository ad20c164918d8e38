# The two commands of the README. Both do the whole set-up on a fresh Debian 12 machine
# (as root): system packages, the Python package, the real local engines.
PY ?= python3
LAB_PORT ?= 8888

.PHONY: lab test deps unlink-panel engines lint unit down status measure

lab: deps
	$(PY) -m jupyter_virtwork.sandbox up --background-slow || true
	$(PY) -m pip install -q -e '.[all,lab]'
	jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) --no-browser --allow-root --notebook-dir=notebooks

test: deps engines lint
	$(PY) -m pytest tests notebooks --nbval-lax

# libvirt-python compiles against libvirt's headers: they must exist before pip runs. The
# browser tests (tests/ui) drive Debian's chromium: Playwright cannot download its own here.
# Every apt call goes through the sandbox's one installer (apt allows one writer at a time).
deps: unlink-panel
	$(PY) -m jupyter_virtwork.sandbox packages libvirt-dev pkg-config chromium fonts-liberation
	$(PY) -m pip install -q -e '.[all,test]'

# `jupyter labextension develop` leaves a symlink into a source tree where pip installs the
# built panel; pip then writes through it and fails. pip installs a copy: drop the link.
unlink-panel:
	@link="$$($(PY) -c 'import sys; print(sys.prefix)')/share/jupyter/labextensions/jupyter-virtwork"; \
	  if [ -L "$$link" ]; then rm "$$link"; fi

engines:
	$(PY) -m jupyter_virtwork.sandbox up
	$(PY) -m jupyter_virtwork.sandbox status

# Notebook 05's sweep: containers, pods and QEMU VMs, 1 to 8 at once, 10 samples each. The
# VMs dominate: on two cores with TCG the whole sweep took 25 minutes, 10 of them for the
# samples of 8 VMs. It rewrites notebooks/data/05-measurements.json.
measure:
	cd notebooks && $(PY) -m lab.sweep

lint:
	$(PY) -m ruff check jupyter_virtwork tests benchmarks notebooks/lab panel_build.py
	$(PY) -m mypy

unit:
	$(PY) -m pytest tests/unit

down:
	$(PY) -m jupyter_virtwork.sandbox down

status:
	$(PY) -m jupyter_virtwork.sandbox status
