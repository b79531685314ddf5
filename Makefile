# `make generate` and `make test` set everything up on a fresh machine (Python 3.11 and make),
# then run. The virtualenv is reinstalled only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Prefect keeps its database and settings here, not in ~/.prefect; no usage reports.
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: generate test test-fast install browser clean

# Fit on the bundled Adult table and write 100,000 synthetic rows to runs/adult/.
generate: $(STAMP)
	$(PY) -m flows.generate --rows 100000

# The whole test suite, the slow end-to-end runs included.
test: $(STAMP) browser
	$(PY) -m pytest

test-fast: $(STAMP) browser
	$(PY) -m pytest -m "not slow"

# tests/test_report_html.py opens the HTML report in headless Chromium. On Debian as root it
# is installed here when missing (about a minute); elsewhere install `chromium` yourself.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	       && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || echo "warning: chromium not found; the browser test will fail (install chromium)"

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: pip then keeps the CPU build available locally, where a plain
# `torch` requirement would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e '.[test]'
	touch $@

# Outputs in runs/ are kept.
clean:
	rm -rf $(VENV) .prefect
