# Two commands for a fresh machine (see README):
#   make demo   - set up, then run the whole pipeline on the embedded default videos and tiny model
#   make test   - set up (unless the environment is current), then run the test suite (what CI runs)
# The active virtual environment or conda environment when there is one, else the checkout's own .venv
# (made by `make setup`: a system Python refuses pip installs).
ifneq ($(VIRTUAL_ENV)$(CONDA_PREFIX),)
PYTHON ?= python
ENV_DIR := $(or $(VIRTUAL_ENV),$(CONDA_PREFIX))
else
PYTHON ?= .venv/bin/python
ENV_DIR := .venv
endif
# Written into the environment at the end of a successful set-up: `make test` redoes set-up only when the
# environment is new or .ci/setup or pyproject.toml changed since. `make setup` always runs it.
SETUP_STAMP := $(ENV_DIR)/.videossr-setup.stamp
SETUP = PYTHON=$(PYTHON) bash .ci/setup && touch $(SETUP_STAMP)
LINT_PATHS = videossr hub recipes space tests scripts
OUT ?= demo_out
export HF_HUB_OFFLINE = 1
export GRADIO_ANALYTICS_ENABLED = False
export TOKENIZERS_PARALLELISM = false

.PHONY: space setup demo demo-tasks demo-data demo-bench demo-train learn learn-all learn-curriculum test test-bed lint quality

setup:
	$(SETUP)

$(SETUP_STAMP): .ci/setup pyproject.toml
	$(SETUP)

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

# A short run of the learning bed (docs/training.md, "Does it learn?"): the offline tiny Qwen3-VL gets the
# format warm-up, then 60 GRPO steps on Anomaly Grounding (invert) on a small bed of 40 synthetic videos,
# scored on the dev videos every 20 steps and on unseen test videos at the end. Writes $(OUT)/train/learning_curve.png, summary.json, and under video/seed0/ the
# checkpoint, its model card and reward_curve.png (the training reward rises). The full bed with its control
# arm and 3 seeds is `make learn`.
demo-train:
	$(PYTHON) recipes/learn.py --config recipes/tiny/grpo/config_learn.yaml --output_dir $(OUT)/train \
		--seeds 0 --arms video --max_steps 60 --viubench_steps 20 --bed_videos 40 --test_videos 8 \
		--dev_videos 4 --dev_per_video 4 --test_per_video 3 \
		--per_device_train_batch_size 32 --logging_steps 2 --jobs 1 --torch_threads 2

# The learning bed: a tiny Qwen3-VL learns Anomaly Grounding by GRPO on CPU, 3 seeds x (video arm, control
# arm whose clips carry no information), on 160 synthetic videos split by video into train/dev/test, scored
# on the test videos beside the best video-blind answer. Writes $(LEARN_OUT)/summary.json, learning_curve.png,
# per-arm logs and models (docs/training.md, "Does it learn?"). `learn-all` adds the jigsaw and counting beds.
LEARN_OUT ?= learn_out
learn: $(SETUP_STAMP)
	$(PYTHON) recipes/learn.py --config recipes/tiny/grpo/config_learn.yaml --output_dir $(LEARN_OUT)

learn-all: learn
	$(PYTHON) recipes/learn.py --config recipes/tiny/grpo/config_learn_jigsaw.yaml --output_dir $(LEARN_OUT)
	$(PYTHON) recipes/learn.py --config recipes/tiny/grpo/config_learn_counting.yaml --output_dir $(LEARN_OUT)

# The curriculum bed (docs/training.md, "Adaptive difficulty"): jigsaw on the online stream of the bed's
# training videos, 3 seeds x 4 arms (fixed-strict, curriculum-strict, fixed-smooth, curriculum-smooth), the
# evaluation level and the curriculum's start chosen by code from the start models' dev pass rates before any
# GRPO run. Writes $(LEARN_OUT)_curriculum/jigsaw_curriculum/{levels.json,summary.json,summary.md} and
# docs/curriculum_bed.png. About 2 h 45 min on two cores (not in CI).
learn-curriculum: $(SETUP_STAMP)
	$(PYTHON) recipes/learn.py --config recipes/tiny/grpo/config_learn_curriculum.yaml \
		--output_dir $(LEARN_OUT)_curriculum --curriculum_figure docs/curriculum_bed.png

# The Gradio app (http://127.0.0.1:7860)
space:
	$(PYTHON) space/app.py

test: $(SETUP_STAMP)
	$(PYTHON) -m pytest -q -m "not gpu and not bed" -p no:cacheprovider --durations=10

# The learning test on the bed (tests/learnbed/test_learnbed.py, marker `bed`): one seed of both arms, scored on the test
# videos; too long for `make test` on two cores (docs/training.md, "A test that fails when learning breaks").
test-bed: $(SETUP_STAMP)
	$(PYTHON) -m pytest -q -m bed -p no:cacheprovider -s tests/learnbed/test_learnbed.py

# What .ci/run checks: the formatting (`ruff format $(LINT_PATHS)` fixes it) and the lint rules, as
# configured in pyproject.toml. Both always run; the target fails when either does.
lint:
	$(PYTHON) -m ruff format --check $(LINT_PATHS); rc=$$?; $(PYTHON) -m ruff check $(LINT_PATHS) && exit $$rc

quality: lint
