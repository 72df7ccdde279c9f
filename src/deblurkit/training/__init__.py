"""Training: typed recipes, the train loop, checkpoints with exact resume, logging, DDP.

- :mod:`deblurkit.training.config` -- YAML recipes as frozen dataclasses (:func:`load_config`,
  ``--set`` overrides, unknown keys are errors).
- :mod:`deblurkit.training.engine` -- :func:`train` and the step functions (supervised,
  adversarial, multi-task, classifier).
- :mod:`deblurkit.training.checkpoint` -- atomic checkpoints (safetensors + ``state.pt``).
- :mod:`deblurkit.training.data` -- resumable, distributed data order.
- :mod:`deblurkit.training.logs` -- progress bar, metrics.csv, TensorBoard, curves.png.
- :mod:`deblurkit.training.schedules` -- learning-rate schedules of the five papers
  (registry ``SCHEDULES``).
- :mod:`deblurkit.training.optimizers` -- the optimizers a config may name (``OPTIMIZERS``).
- :mod:`deblurkit.training.pyramids` -- target pyramids of multi-scale terms (``PYRAMIDS``).

Example:
    >>> from deblurkit.training import load_config, train             # doctest: +SKIP
    >>> result = train(load_config("configs/small/s1_han.yaml"))       # doctest: +SKIP
"""

from deblurkit.training.config import Config, build_config, dump_config, load_config
from deblurkit.training.engine import STEP_FUNCTIONS, TrainResult, train

__all__ = ["Config", "STEP_FUNCTIONS", "TrainResult", "build_config", "dump_config",
           "load_config", "train"]
