# spo-hotfolder: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/spo-hotfolder.yaml

.PHONY: run test test-slow test-tools lint bench bench-quick bench-tools init clean install bytecode

# The venv is rebuilt when pyproject.toml changes.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The package byte-compiled, as `pip install` leaves an installed one: where the environment has
# PYTHONDONTWRITEBYTECODE=1, every start of the daemon or of a command (a test starts hundreds)
# would otherwise compile it from source (~0.3 s each). Only what changed is compiled again.
bytecode: $(BIN)/.installed
	$(BIN)/python -m compileall -q spo_hotfolder

# Runs the daemon in the foreground on the example config; everything lives under ./var/.
run: bytecode
	mkdir -p var/hot/indigo var/hot/large-format
	$(BIN)/spo-hotfolder -c $(CONFIG) init
	$(BIN)/spo-hotfolder -c $(CONFIG) run

init: $(BIN)/.installed
	$(BIN)/spo-hotfolder -c $(CONFIG) init

# Two test processes (JOBS=0: one): the end-to-end tests spend most of their time waiting on a
# daemon, so two halve the wall time on two cores. worksteal: a process that is done early takes
# tests from the other (a few tests take 10 s).
JOBS ?= 2

test: bytecode
	$(BIN)/python -m pytest -m "not slow" -q -n $(JOBS) --dist worksteal

test-slow: bytecode
	$(BIN)/python -m pytest -m slow -q

# Tools a few end-to-end tests use, from Debian (needs root; .ci/run calls it): rsync (a client's
# upload), FUSE (fusermount, libfuse2: a share that stops answering), Ghostscript and MuPDF (PDFs
# made by them, for the fonts check). Where one is missing, its tests are skipped, saying why.
test-tools:
	command -v rsync || (apt-get update -q && apt-get install -y --no-install-recommends rsync) || echo "rsync not installed: its test is skipped"
	command -v fusermount || (apt-get update -q && apt-get install -y --no-install-recommends fuse) || echo "FUSE not installed: the hung-share tests are skipped"
	command -v gs || (apt-get update -q && apt-get install -y --no-install-recommends ghostscript) || echo "Ghostscript not installed: its PDFs' tests are skipped"
	command -v mutool || (apt-get update -q && apt-get install -y --no-install-recommends mupdf-tools) || echo "MuPDF not installed: its PDFs' tests are skipped"

lint: $(BIN)/.installed
	$(BIN)/ruff check spo_hotfolder tests bench
	$(BIN)/mypy spo_hotfolder

# Installs the daemon as a systemd service (run as root: sudo make install). Line by line, with
# the reasons: docs/service.md, "Install as a service". An existing /etc config is never replaced.
PREFIX      ?= /opt/spo-hotfolder
UNIT_DIR    ?= /etc/systemd/system
ETC_DIR     ?= /etc/spo-hotfolder
DOC_DIR     ?= /usr/local/share/doc/spo-hotfolder
# The system's Python, not $(PYTHON): a pyenv or conda one under a person's home is one the
# service's user cannot run (docs/service.md, step 1).
INSTALL_PYTHON ?= /usr/bin/python3
install:
	@test "$$(id -u)" = 0 || { echo "make install: run it as root (sudo make install)" >&2; exit 1; }
	@$(INSTALL_PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "make install: $(INSTALL_PYTHON) is missing or older than Python 3.11: name a system-wide one," \
	    "e.g. make install INSTALL_PYTHON=/usr/local/bin/python3.12" >&2; exit 1; }
	@case "$$(readlink -f $(INSTALL_PYTHON))" in /root/*|/home/*) \
	  echo "make install: $(INSTALL_PYTHON) is under a person's home, which the service's user cannot" \
	    "run: name a system-wide Python 3.11+ (INSTALL_PYTHON=...)" >&2; exit 1;; esac
	$(INSTALL_PYTHON) -m venv $(PREFIX)
	$(PREFIX)/bin/pip install --quiet --upgrade pip
	$(PREFIX)/bin/pip install --quiet .
	ln -sfn $(PREFIX)/bin/spo-hotfolder /usr/local/bin/spo-hotfolder
	install -D -m 0644 systemd/spo-hotfolder.sysusers /etc/sysusers.d/spo-hotfolder.conf
	systemd-sysusers /etc/sysusers.d/spo-hotfolder.conf
	install -D -m 0644 systemd/spo-hotfolder.tmpfiles /etc/tmpfiles.d/spo-hotfolder.conf
	systemd-tmpfiles --create /etc/tmpfiles.d/spo-hotfolder.conf
	install -d -m 0750 -o root -g spo-hotfolder $(ETC_DIR)
	test -e $(ETC_DIR)/spo-hotfolder.yaml || \
		install -m 0640 -o root -g spo-hotfolder config/spo-hotfolder.service.yaml $(ETC_DIR)/spo-hotfolder.yaml
	install -D -m 0644 systemd/spo-hotfolder.service $(UNIT_DIR)/spo-hotfolder.service
	install -D -m 0644 systemd/spo-hotfolder.service.d/hot-folders.conf.example \
		$(UNIT_DIR)/spo-hotfolder.service.d/hot-folders.conf.example
	install -D -m 0644 docs/service.md $(DOC_DIR)/service.md
	install -D -m 0644 config/reference.yaml $(DOC_DIR)/reference.yaml
	if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "installed. Next: edit $(ETC_DIR)/spo-hotfolder.yaml and the drop-in (docs/service.md), then"
	@echo "  spo-hotfolder -c $(ETC_DIR)/spo-hotfolder.yaml check-config && systemctl enable --now spo-hotfolder"

# Benchmarks (bench/RESULTS.md): the real daemon against an inotifywait + cp loop and watchdog's
# PollingObserver. Installs inotify-tools (Debian) and py-spy (for profiling) when missing.
# Not root: through sudo where there is one; else (or without apt-get) it says what to install.
INOTIFYWAIT ?= inotifywait
bench-tools: $(BIN)/.installed
	@command -v $(INOTIFYWAIT) >/dev/null || { \
	  if ! command -v apt-get >/dev/null; then \
	    echo "bench: $(INOTIFYWAIT) is missing: install inotify-tools with your system's package manager" >&2; exit 1; \
	  elif [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y inotify-tools; \
	  elif command -v sudo >/dev/null; then sudo apt-get update && sudo apt-get install -y inotify-tools; \
	  else echo "bench: $(INOTIFYWAIT) is missing: as root, run apt-get install inotify-tools" >&2; exit 1; fi; }
	test -x $(BIN)/py-spy || $(BIN)/pip install --quiet py-spy || echo "py-spy not installed (only needed for profiling)"

bench: bench-tools
	$(BIN)/python -m bench

bench-quick: bench-tools
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache spo_hotfolder.egg-info
