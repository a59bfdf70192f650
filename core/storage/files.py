"""The names of the files in a run directory, spelled once.

Every module that reads or writes a run (training, resuming, eval, predict, export, the
driving commands, fine-tuning from a run) names its files through these, so a rename or a
new file is one change here. No imports: everything below the CLI may read this.
"""

#: The run's record: task, status, model spec, data, metrics, versions.
RUN_RECORD = "run.json"
#: The options the run was made with; `--config` and `--resume` read it back.
RUN_CONFIG = "config.yaml"
#: Everything to continue the run: weights, optimizer, schedule, epoch, random states.
LAST_CHECKPOINT = "last.ckpt"
#: The best epoch's weights, as safetensors: what eval, predict, export and finetune load.
WEIGHTS = "model.safetensors"
#: One row per epoch.
METRICS_CSV = "metrics.csv"
