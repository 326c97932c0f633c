# Two commands for a fresh machine (see README):
#   make demo   - set up, then run the whole pipeline on the embedded default videos and tiny model
#   make test   - set up, then run the test suite (what CI runs)
# The active virtual environment or conda environment when there is one, else the checkout's own .venv
# (made by `make setup`: a system Python refuses pip installs).
ifneq ($(VIRTUAL_ENV)$(CONDA_PREFIX),)
PYTHON ?= python
else
PYTHON ?= .venv/bin/python
endif
OUT ?= demo_out
export HF_HUB_OFFLINE = 1
export GRADIO_ANALYTICS_ENABLED = False
export TOKENIZERS_PARALLELISM = false

.PHONY: space setup demo demo-tasks demo-data demo-bench demo-train learn test lint quality

setup:
	PYTHON=$(PYTHON) bash .ci/setup

demo: setup demo-tasks demo-data demo-bench demo-train
	@echo "demo finished: see $(OUT)/"

# --- demo steps (each area owns its target) ---
demo-tasks:
	$(PYTHON) -m videossr.demo --out $(OUT)/tasks

demo-data:
	$(PYTHON) -m videossr.cli build viubench --videos default --out $(OUT)/data/viubench --per-subtype 4 --num-proc 2 --overwrite --quiet
	$(PYTHON) -m videossr.cli build videossr-30k --videos default --out $(OUT)/data/videossr-30k --size 40 --num-proc 2 --overwrite --quiet
	$(PYTHON) -m videossr.cli dataset-info $(OUT)/data/viubench $(OUT)/data/videossr-30k

# Score the random and heuristic baselines and the tiny random Qwen3-VL on the demo's small VIUBench, then
# print Table 1 with the paper's rows beside them. Results, predictions and plots under $(OUT)/bench/.
demo-bench:
	@test -d $(OUT)/data/viubench || $(PYTHON) -m videossr.cli build viubench --videos default \
		--out $(OUT)/data/viubench --per-subtype 4 --quiet
	$(PYTHON) -m videossr.cli bench --data $(OUT)/data/viubench --model random --out $(OUT)/bench/random --no-progress
	$(PYTHON) -m videossr.cli bench --data $(OUT)/data/viubench --model heuristic --out $(OUT)/bench/heuristic --no-progress
	$(PYTHON) -m videossr.tiny --out $(OUT)/models/tiny-qwen3_vl --arch qwen3_vl
	$(PYTHON) -m videossr.cli bench --data $(OUT)/data/viubench --model hf:$(OUT)/models/tiny-qwen3_vl \
		--name tiny-qwen3-vl --max-new-tokens 16 --batch-size 8 --out $(OUT)/bench/tiny-qwen3-vl --no-progress
	$(PYTHON) -m videossr.cli compare $(OUT)/bench/random $(OUT)/bench/heuristic $(OUT)/bench/tiny-qwen3-vl \
		--paper --out $(OUT)/bench

# Train the offline tiny Qwen3-VL for a few GRPO steps on CPU: on the demo's dataset when demo-data built
# it, else on rows generated online from the embedded sample videos; score a VIUBench subset at the end when
# the demo's VIUBench exists. Writes $(OUT)/train/reward_curve.png and the checkpoint + model card.
demo-train:
	$(PYTHON) recipes/grpo.py --config recipes/tiny/grpo/config_cpu.yaml \
		$$(if [ -d $(OUT)/data/videossr-30k ]; then echo --dataset_name $(OUT)/data/videossr-30k; fi) \
		$$(if [ -d $(OUT)/data/viubench ]; then echo --viubench_dataset $(OUT)/data/viubench --viubench_limit 18; fi) \
		--tiny_model_dir $(OUT)/models --output_dir $(OUT)/train/tiny-grpo \
		--reward_plot $(OUT)/train/reward_curve.png

# The learning bed: a tiny Qwen3-VL learns Anomaly Grounding by GRPO on CPU, 3 seeds x (video arm, control
# arm whose clips carry no information). Writes $(LEARN_OUT)/summary.json, learning_curve.png, per-arm logs and
# models (docs/training.md, "Does it learn?").
LEARN_OUT ?= learn_out
learn: setup
	$(PYTHON) recipes/learn.py --config recipes/tiny/grpo/config_learn.yaml --output_dir $(LEARN_OUT)

# The Gradio app (http://127.0.0.1:7860)
space:
	$(PYTHON) space/app.py

test: setup
	$(PYTHON) -m pytest -q -m "not gpu" -p no:cacheprovider

lint:
	$(PYTHON) -m ruff check videossr hub recipes space tests

quality: lint
