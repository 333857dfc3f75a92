# garnet-hls: the two commands a new machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.garnet-hls-installed

.PHONY: demo test bench bench-rtl bench-startup fuzz install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,keras3]'
	$(PY) tools/restore_qkeras.py  # hgq2 writes a `qkeras` package over QKeras 0.9 (docs/keras3.md)
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/garnet-hls demo

test: $(STAMP)
	$(PY) -m pytest -q -ra tests

bench: $(STAMP)
	$(PY) benchmarks/run.py
	$(PY) benchmarks/estimates.py
	$(PY) benchmarks/sweep_bench.py

# Issue #11: Yosys LUT/FF/DSP of the RTL presets against V (long: run it niced; one Yosys at a time).
VERTICES ?= 16 32 64
bench-rtl: $(STAMP)
	nice -n 10 $(PY) benchmarks/rtl_yosys_sweep.py --vertices $(VERTICES)

bench-startup: $(STAMP)
	$(PY) benchmarks/startup.py

clean:
	rm -rf vivado_projects/*/ runs/ build/ *.egg-info

# Randomized architectures (garnet_hls/flows/fuzz.py): convert, C-simulate and compare N cases, write a table.
# BACKEND=rtl: trace each case for the RTL backend and compare da4ml's emulator of it instead.
# KERAS=3: random Keras 3 / HGQ2 models instead (garnet_hls/flows/fuzz_keras3.py).
N ?= 200
SEED ?= 2026
BACKEND ?= hls
KERAS ?= 2
fuzz: $(STAMP)
ifeq ($(KERAS),3)
	$(PY) -m garnet_hls.flows.fuzz --keras 3 --backend $(BACKEND) -n $(N) --seed $(SEED) --events 400 -o benchmarks/fuzz_keras3_results.md
else ifeq ($(BACKEND),rtl)
	$(PY) -m garnet_hls.flows.fuzz --backend rtl -n $(N) --seed $(SEED) --events 400 -o benchmarks/fuzz_rtl_results.md
else
	$(PY) -m garnet_hls.flows.fuzz -n $(N) --seed $(SEED) --events 400 -o benchmarks/fuzz_results.md
endif
