"""mlcore: the code behind the meta-learning book. Notebooks use `import mlcore as ml`."""
from . import data, methods, nets, plots, report, tasks
from .notebook import device, full_mode, glue, setup, show_source
from .tasks import Split, Task
from .train import accuracy, evaluate, load_checkpoint, meta_train, save_checkpoint

__version__ = "0.1.0"

__all__ = ["data", "methods", "nets", "plots", "report", "tasks", "Split", "Task",
           "device", "full_mode", "glue", "setup", "show_source", "accuracy", "evaluate",
           "load_checkpoint", "meta_train", "save_checkpoint"]
