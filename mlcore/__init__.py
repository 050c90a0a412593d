"""mlcore: the code behind the meta-learning book. Notebooks use `import mlcore as ml`."""
from . import data, functional, methods, nets, plots, report, tasks, validation
from .functional import gradient_steps, per_task
from .notebook import (
    checkpoint_dir,
    checkpoints,
    device,
    full_mode,
    glue,
    image_dataset,
    setup,
    show_source,
    smoke_cap,
    smoke_mode,
)
from .tasks import Split, Task
from .train import (
    accuracy,
    evaluate,
    expected_calibration_error,
    load_checkpoint,
    meta_train,
    reliability,
    save_checkpoint,
)

__version__ = "0.1.0"

__all__ = ["data", "functional", "methods", "nets", "plots", "report", "tasks", "validation",
           "Split", "Task", "gradient_steps", "per_task", "checkpoint_dir", "checkpoints", "device",
           "full_mode", "glue", "image_dataset", "setup", "show_source", "smoke_cap", "smoke_mode",
           "accuracy", "evaluate", "expected_calibration_error", "load_checkpoint", "meta_train",
           "reliability", "save_checkpoint"]
