# Two commands for a fresh machine (see README):
#   make demo   - set up, then run the whole pipeline on the embedded default videos and tiny model
#   make test   - set up, then run the test suite (what CI runs)
PYTHON ?= python3
OUT ?= demo_out
export HF_HUB_OFFLINE = 1
export GRADIO_ANALYTICS_ENABLED = False
export TOKENIZERS_PARALLELISM = false

.PHONY: setup demo demo-tasks demo-data demo-bench demo-train test lint quality

setup:
	bash .ci/setup

demo: setup demo-tasks demo-data demo-bench demo-train
	@echo "demo finished: see $(OUT)/"

# --- demo steps (each area owns its target) ---
demo-tasks:
	$(PYTHON) -m videossr.demo --out $(OUT)/tasks

demo-data:

demo-bench:

demo-train:

test: setup
	$(PYTHON) -m pytest -q -m "not gpu" -p no:cacheprovider

lint:
	ruff check videossr hub recipes space tests

quality: lint
