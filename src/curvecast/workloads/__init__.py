"""Real training workloads (PyTorch, imported only when a run is created or a model is built).

Importing this package does not import torch: the workload modules import it inside functions.
"""

from curvecast.workloads._base import (
    CheckpointError,
    CheckpointWriteError,
    EpochResult,
    TrainingRun,
    Workload,
)
from curvecast.workloads.digits_metaqnn import DigitsMetaQNN
from curvecast.workloads.friedman_sgd import FriedmanSGD
from curvecast.workloads.mnist1d_hp import MNIST1DHP
from curvecast.workloads.text_lstm import TextLSTM

__all__ = ["MNIST1DHP", "CheckpointError", "CheckpointWriteError", "DigitsMetaQNN", "EpochResult",
           "FriedmanSGD", "TextLSTM", "TrainingRun", "Workload"]
