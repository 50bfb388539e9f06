# `make demo` and `make test` do all set-up themselves: they create .venv from requirements.txt (exact pins)
# and install this package into it. A second run only checks that the stamp is newer than the pin files.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean-venv

$(STAMP): requirements.txt pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@# the contrib build of OpenCV replaced opencv-python-headless: both in one venv share the cv2 folder
	@$(VENV)/bin/python -m pip uninstall --quiet --yes opencv-python-headless 2>/dev/null || true
	@# uv installs the pins in parallel, the same files as pip (measured: 41 s against pip's 142 s from a fresh venv);
	@# its bytecode compiled as pip does (PYTHONDONTWRITEBYTECODE machines never write it later); pip if uv fails
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==0.13.9 2>/dev/null && \
		$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python --compile-bytecode -r requirements.txt || \
		{ echo "make: no uv==0.13.9 here, or it failed: installing the pins with pip"; \
		  $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt; }
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/zoo demo

# Two pytest workers (pytest-xdist), one test file each at a time, so a module's shared fixtures are built once.
test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile

# `zoo bench pipeline` compares ingestion with Debian's ffmpeg: installed here when missing (as root); without it
# the benchmark skips only that comparison and says so.
bench: $(STAMP)
	@command -v ffmpeg >/dev/null || { apt-get update -qq && apt-get install -y -qq ffmpeg >/dev/null; } || \
		echo "make bench: could not install ffmpeg (apt-get as root); its comparison is skipped"
	$(VENV)/bin/python -m pytest -q -m bench
	$(VENV)/bin/zoo bench pipeline
	$(VENV)/bin/zoo bench accuracy --family local
	$(VENV)/bin/zoo bench accuracy --family global --epochs 30
	$(VENV)/bin/zoo bench generative

clean-venv:
	rm -rf $(VENV)
