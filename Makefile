# The two commands of the README: `make demo` and `make test`.
# Every install step goes through constraints.txt so torch stays the local CPU build.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test venv clean realval realtune realhold

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/deblurkit demo --out demo-output

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# The real validation set (docs/synthesis.md): from ../shared/data's val split only;
# byte-identical on every run on one machine (docs/synthesis.md).
realval: $(STAMP)
	$(BIN)/deblurkit synth --config configs/data/realval.yaml -o data/realval --overwrite

realtune: $(STAMP)
	$(BIN)/deblurkit synth --config configs/data/realtune.yaml -o data/realtune --overwrite

# Tuning set of training scenes the recipes with `holdout: ... use: rest` never read.
realhold: $(STAMP)
	$(BIN)/deblurkit synth --config configs/data/realhold.yaml -o data/realhold --overwrite

clean:
	rm -rf $(VENV) demo-output .pytest_cache
