# rlkit: `make train` and `make test` work on a fresh machine (Python 3.10+ with venv).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export WANDB_SILENT := true

.PHONY: setup train eval test bench bench-train bench-memory bench-atari bench-ppo bench-sac bench-peers bench-loop-parts bench-scaling bench-update-variants bench-linear bench-freed-memory bench-replay-pages bench-denormals bench-gpu study-batch-size study-updates-per-step study-lr study-health clean-outputs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch==2.13.0 is the CPU build on this disk; a looser pin pulls a multi-GB CUDA build.
	# GPU users: see README "GPU" for the CUDA wheel index.
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[test,optuna,tensorboard]"
	touch $(STAMP)

setup: $(STAMP)

# The default job: CPU-sized DQN on Boxing, then a Welch test against the random policy.
train: $(STAMP)
	$(PY) -m rlkit random_baseline_episodes=10 $(ARGS)

# Evaluate a trained run: make eval RUN=outputs/runs/<date>/<time> ARGS="episodes=10 video=true panel=true"
eval: $(STAMP)
	@test -n "$(RUN)" || { echo "usage: make eval RUN=<run dir> [ARGS=\"episodes=N policy=greedy video=true ...\"]"; exit 2; }
	$(PY) -m rlkit.evaluate $(RUN) $(ARGS)

# Two pytest-xdist workers, a test file each at a time, each worker pinned to a core (tests/cores.py);
# files in collection order (tests/conftest.py puts the longest first), not xdist's by-test-count order.
TEST_WORKERS ?= 2
test: $(STAMP)
	WANDB_MODE=disabled $(PY) -m pytest -q -m "not slow" -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(ARGS)

bench: $(STAMP)
	$(PY) benchmarks/throughput.py

# The report's Boxing config in memory (600k transitions, 16 envs, batch 1024) and sample time vs buffer size.
bench-memory: $(STAMP)
	$(PY) benchmarks/replay_memory.py $(ARGS)

# rlkit beside Stable-Baselines3 at the same settings (benchmarks/results/peers.md). SB3 lives in its own
# venv (never an rlkit dependency), with the same torch and env packages as rlkit's.
SB3_VENV := benchmarks/.venv-sb3
$(SB3_VENV)/.installed: $(STAMP)
	$(PYTHON) -m venv $(SB3_VENV)
	$(SB3_VENV)/bin/pip install --quiet --upgrade pip
	$(SB3_VENV)/bin/pip install --quiet "torch==2.13.0"
	$(SB3_VENV)/bin/pip install --quiet "stable-baselines3==2.9.2" opencv-python-headless imageio packaging $$($(PY) benchmarks/peers.py --print-pins)
	touch $@

bench-peers: $(STAMP) $(SB3_VENV)/.installed
	$(PY) benchmarks/peers.py $(ARGS)

# The DQN training step's parts at bench-peers' matched settings, each alone and in the loop's order.
bench-loop-parts: $(STAMP)
	$(PY) benchmarks/loop_parts.py $(ARGS)

# DQN on Boxing pixels: env steps/s against num_envs (1, 4, 8, 16) and batch size (32, 256).
bench-scaling: $(STAMP)
	$(PY) benchmarks/scaling.py $(ARGS)

# A Nature-CNN update with each candidate speed-up (batched Double-DQN forward, channels_last, torch.compile),
# and rlkit's learner eager against hardware.compile=true (Boxing pixels and RAM).
bench-update-variants: $(STAMP)
	$(PY) benchmarks/update_variants.py $(ARGS)

# The Q torsos' linear layers and the DQN train step with torch's kernel and oneDNN's (hardware.cpu_linear).
bench-linear: $(STAMP)
	$(PY) benchmarks/linear_kernels.py $(ARGS)

# A DQN update with hardware.reuse_freed_memory on and off, each in its own process (page faults, time, memory).
bench-freed-memory: $(STAMP)
	$(PY) benchmarks/freed_memory.py $(ARGS)

# The replay's first pass and sample time: base pages (the default), paged in at the start, numpy's huge-page hint.
bench-replay-pages: $(STAMP)
	$(PY) benchmarks/replay_pages.py $(ARGS)

# The default job (make train) over seeds 0, 1 and 2, one at a time, each against the random policy.
bench-train: $(STAMP)
	$(PY) benchmarks/train_seeds.py $(ARGS)

# DQN updates with hardware.flush_denormals on and off, two processes taking turns as a run goes on.
bench-denormals: $(STAMP)
	$(PY) benchmarks/denormals.py $(ARGS)

# The report's Boxing config on a CUDA GPU with and without AMP, the GPU replay and compile (needs a CUDA torch and nvidia-smi).
bench-gpu: $(STAMP)
	$(PY) benchmarks/gpu.py $(ARGS)

# DQN on Boxing RAM, 2M env steps, 3 seeds at once (2.3 h on 2 cores, with other work beside it); ARGS="--continue <dir>" resumes.
bench-atari: $(STAMP)
	$(PY) benchmarks/atari_learning.py $(ARGS)

# PPO at 1M env steps: Hopper x3, HalfCheetah x3, Humanoid x2, Ant (2 runs at a time; hours on 2 cores).
bench-ppo: $(STAMP)
	$(PY) benchmarks/ppo_learning.py $(ARGS)

# SAC at 1M env steps: Hopper x3, HalfCheetah x3 (2 runs at a time; a day or more on 2 cores). ARGS="--total-env-steps N".
bench-sac: $(STAMP)
	$(PY) benchmarks/sac_learning.py $(ARGS)

# The report's three studies, CPU-sized (DQN on CartPole, 3 seeds per value, 2 jobs at a time), then
# the offline report (report.md and figures in the sweep dir). The GPU-sized ones: experiment=study_*.
study-batch-size study-updates-per-step study-lr study-health: $(STAMP)
	@dir=outputs/sweeps/$(subst -,_,$@)_cpu/$$(date +%Y-%m-%d_%H-%M-%S); \
	$(PY) -m rlkit -m experiment=$(subst -,_,$@)_cpu hydra.sweep.dir=$$dir $(ARGS); status=$$?; \
	$(PY) -m rlkit.report $$dir; exit $$status

clean-outputs:
	rm -rf outputs/runs outputs/sweeps
