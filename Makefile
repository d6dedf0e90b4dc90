# Sensorium for Swift. `make test` installs the Debian packages it needs (only when missing),
# builds the SDK and runs every test, then builds and runs the docs' consumer package and builds the documentation.
SHELL := /bin/bash
DEB_PACKAGES := libopenblas-dev liblapacke-dev libhdf5-dev pkg-config mpich libmpich-dev libbrotli-dev python3-venv
SWIFT ?= swift

.PHONY: deps build test test-examples test-consumer test-distributed test-parquet docs release demo bench clean fuzz compare

deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test
	$(MAKE) test-examples
	$(MAKE) test-consumer
	$(MAKE) test-distributed
	$(MAKE) test-parquet
	$(MAKE) docs

# Examples that prove a property end to end: a user-written core registered by name trains from a
# configuration file through the commands and round-trips through a checkpoint bit for bit.
test-examples:
	$(SWIFT) run CustomCore

# The docs' "use it from your own package" snippets, true by construction: a new package made of
# the README's Package.swift and the main.swift of Documentation/GettingStarted.md §5, extracted as
# written from between their snippet markers, built against this checkout and run (it trains a
# small model on a synthetic mouse and prints Table 1). CONSUMER_DIR keeps its build between runs.
CONSUMER_DIR ?= .build/readme-consumer
test-consumer:
	SWIFT="$(SWIFT)" Tools/readme-consumer.sh "$(CONSUMER_DIR)"

# Data-parallel training over MPI (issue #19; the Distributed/ package, which the SDK does not
# depend on): `mpiexec -n 2` with batch b per rank equals one process with batch 2b, a resumed
# 2-rank run equals the uninterrupted one, and a killed or hung rank stops the job with an error.
test-distributed: deps
	SWIFT=$(SWIFT) Distributed/check-distributed.sh

# The competition's submission tables, written natively (Sources/SensoriumData/Parquet), read back by an
# independent reader: a venv under .build with pyarrow and pandas from PyPI (python3-venv from
# DEB_PACKAGES), then the Parquet suites, whose interop test writes tables of several mice and trials
# (one row, several row groups and pages, long non-ASCII names, extreme values, no rows) and runs
# Tools/check-parquet.py: every value through pyarrow and pandas.read_parquet, schema and dtypes equal to
# the file pyarrow writes the way the reference kit does, and perturbed dumps detected.
PARQUET_VENV ?= .build/parquet-venv
test-parquet: deps
	@test -x "$(PARQUET_VENV)/bin/python" || python3 -m venv "$(PARQUET_VENV)"
	@"$(PARQUET_VENV)/bin/python" -c "import pyarrow, pandas" 2>/dev/null || \
		"$(PARQUET_VENV)/bin/pip" install --quiet pyarrow pandas numpy
	$(SWIFT) build --build-tests
	SENSORIUM_PARQUET_PYTHON="$(abspath $(PARQUET_VENV))/bin/python" $(SWIFT) test --skip-build --filter Parquet

# The DocC documentation of every library product, combined into one static site with symbol links
# across products, built offline with warnings as errors (a broken ``Symbol`` link fails; links to
# another product are written ``/SensoriumLayers/Module``). DocC's parameter-list validation is off:
# several doc comments document a group of parameters in one line.
# Serve it with `python3 -m http.server --directory .build/docs` and open
# http://localhost:8000/documentation/sensorium/.
DOCS_OUTPUT ?= .build/docs
DOC_TARGETS := SensoriumTensor SensoriumLayers SensoriumReadouts SensoriumData SensoriumMetrics \
	SensoriumTraining Sensorium SensoriumCommandLine
docs: deps
	$(SWIFT) package --allow-writing-to-directory "$(DOCS_OUTPUT)" generate-documentation \
		$(addprefix --target ,$(DOC_TARGETS)) --enable-experimental-combined-documentation \
		--warnings-as-errors --disable-parameters-and-returns-validation --disable-indexing --transform-for-static-hosting --output-path "$(DOCS_OUTPUT)"

release: deps
	$(SWIFT) build -c release

# The main job: synthetic mice -> factorised baseline -> Table 1 next to the ground-truth ceiling
# -> demo-output/{results.json,report.html}. DEMO_OUTPUT and DEMO_FLAGS can be overridden.
DEMO_OUTPUT ?= demo-output
DEMO_FLAGS ?=
demo: deps
	$(SWIFT) build -c release --product sensorium
	"$$($(SWIFT) build -c release --show-bin-path)/sensorium" demo --output "$(DEMO_OUTPUT)" $(DEMO_FLAGS)

# The SDK against the PyTorch reference (issue #20, Documentation/Validation.md): the starter kit's
# factorised baseline trained with its own trainer and the SDK's factorizedBaseline recipe, same
# synthetic mice, same core sizes, epochs and seeds (Tools/validate.json), each scored as
# `sensorium evaluate` does; writes $(VALIDATE_OUTPUT)/comparison.{json,md}. Needs torch and
# checkouts of ecker-lab/sensorium_2023 and sinzlab/neuralpredictors in SENSORIUM_STARTER_KIT and
# SENSORIUM_NEURALPREDICTORS (Tools/reference_training.py). VALIDATE_FLAGS e.g. "--jobs 3 --epochs 4".
.PHONY: validate
VALIDATE_OUTPUT ?= validation-output
VALIDATE_FLAGS ?=
validate: deps
	$(SWIFT) build -c release --product sensorium
	python3 Tools/validate.py --output "$(VALIDATE_OUTPUT)" --sensorium "$$($(SWIFT) build -c release --show-bin-path)/sensorium" $(VALIDATE_FLAGS)

# The winners next to the baseline (issues #13-#15, #18): the demo's synthetic mice, then the `demo`
# preset (factorised baseline) and the small presets of the three winning systems, each trained for
# COMPARE_MINUTES and evaluated on the test tiers -> COMPARE_OUTPUT (or OUTPUT)/comparison.{md,json,html} in
# the layout of Table 1 with the fraction of the ground-truth ceiling. About 25 minutes on two
# quiet cores (synthesis, 4 x 5 minutes of training, evaluation); see Documentation/Winners.md.
COMPARE_OUTPUT ?= $(or $(OUTPUT),.build/compare)
COMPARE_MINUTES ?= 5
COMPARE_CONFIGS ?= dwiseneuroSmall dynamicV1FMSmall viv1tSmall
COMPARE_FLAGS ?=
compare: deps
	$(SWIFT) build -c release --product sensorium
	"$$($(SWIFT) build -c release --show-bin-path)/sensorium" compare --output "$(COMPARE_OUTPUT)" \
		--max-minutes $(COMPARE_MINUTES) $(addprefix --config ,$(COMPARE_CONFIGS)) $(COMPARE_FLAGS)

# Seeded fuzzing (issue #16): mutated .npy headers and data, mouse folder layouts and packed HDF5
# mice must each give a correct read or an SDK error; mutated configuration files and command lines
# a refusal naming the key or flag, or a model that builds and runs; never a crash, hang or memory
# blow-up. FUZZ_CASES is per kind (×4 .npy, ×2 folders, ×4 packed mini, ×1 packed synthetic mouse,
# ×2 configuration files, ×4 command lines), FUZZ_SEED the seed (Documentation/DataFormat.md, §1);
# `make test` runs the same suites with 8 cases per kind.
FUZZ_CASES ?= 500
FUZZ_SEED ?= 16
fuzz: deps
	$(SWIFT) build --build-tests
	SENSORIUM_FUZZ_CASES=$(FUZZ_CASES) SENSORIUM_FUZZ_SEED=$(FUZZ_SEED) $(SWIFT) test --skip-build --filter "DataFuzzTests|ConfigurationFuzzTests"

clean:
	rm -rf .build Distributed/.build
