"""`PlasticityStrategy`: naive fine-tuning on Avalanche's `SupervisedTemplate`.

The loop is Avalanche's own (`SGDUpdate.training_epoch`: forward, loss,
backward, step, with the usual plugin hooks). We change only what the paper's
protocol needs and what keeps the loop as fast as a hand-written one:

1. Optimiser statistics are reset at the start of every experience (paper,
   Appendix A). Avalanche keeps them by default (`reset_optimizer_state=False`).
2. Epochs are set per stage (`epochs_per_stage[i]` for experience i).
3. Experiences built by our scenarios (`StageExperience`) are fed as whole
   mini-batches cut from tensors already on the device (`TensorBatches`);
   anything else (or data a plugin has changed) goes through Avalanche's
   loaders as usual.
4. The evaluator answers only the callbacks its metrics and loggers implement
   (`LeanEvaluationPlugin`), so no per-iteration work is done for metrics that
   do not need it.

Nothing else: no hidden regularisation, clipping, scheduling or weight decay.
`tests/test_reference.py` checks that one stage ends with the same weights as a
plain PyTorch loop.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from avalanche.core import SupervisedPlugin
from avalanche.evaluation import PluginMetric
from avalanche.logging import BaseLogger
from avalanche.training.plugins import EvaluationPlugin
from avalanche.training.templates import SupervisedTemplate
from torch import nn

from plasticity_bench.metrics.accuracy import _Running
from plasticity_bench.stages import StageExperience

_CALLBACK_PREFIXES = ("before_", "after_")


class LeanEvaluationPlugin(EvaluationPlugin):
    """An `EvaluationPlugin` that takes part only in the callbacks some metric or
    logger overrides. The stock one answers every callback (8 per training
    iteration), copying the experience each time."""

    def __init__(self, *metrics: Any, loggers: Any = None, collect_all: bool = True) -> None:
        import warnings

        with warnings.catch_warnings():  # "No loggers specified": fine, the runner reads metrics directly
            warnings.simplefilter("ignore", UserWarning)
            super().__init__(*metrics, loggers=loggers, collect_all=collect_all)
        wanted = set()
        for obj, base in [(m, PluginMetric) for m in self.metrics] + [(lg, BaseLogger) for lg in self.loggers]:
            for name in dir(obj):
                if name.startswith(_CALLBACK_PREFIXES) and getattr(type(obj), name, None) is not getattr(base, name, None):
                    wanted.add(name)
        self._wanted = frozenset(wanted)

    def __getattribute__(self, item: str) -> Any:
        if item.startswith(_CALLBACK_PREFIXES) and item not in object.__getattribute__(self, "_wanted"):
            raise AttributeError(item)  # trigger_plugins uses hasattr(): skipped
        return super().__getattribute__(item)


class PlasticityStrategy(SupervisedTemplate):
    """Naive fine-tuning with the paper's protocol, on Avalanche's training template.

    epochs_per_stage: epochs of stage s at index s - 1 (`experience.stage`, or
        `current_experience + 1` for other experiences); None: `train_epochs` for all.
    augment: random crop/flip on our fast path (stock loaders use the dataset's
        own transform group instead).
    """

    def __init__(
        self,
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        criterion: nn.Module | None = None,
        train_mb_size: int = 128,
        train_epochs: int = 1,
        eval_mb_size: int = 1024,
        device: str | torch.device = "cpu",
        plugins: Sequence[SupervisedPlugin] | None = None,
        evaluator: EvaluationPlugin | None = None,
        eval_every: int = 1,
        epochs_per_stage: Sequence[int] | None = None,
        augment: bool = False,
    ) -> None:
        super().__init__(
            model=model,
            optimizer=optimizer,
            criterion=criterion if criterion is not None else nn.CrossEntropyLoss(),
            train_mb_size=train_mb_size,
            train_epochs=train_epochs,
            eval_mb_size=eval_mb_size,
            device=device,
            plugins=list(plugins or []),
            evaluator=evaluator if evaluator is not None else LeanEvaluationPlugin(),
            eval_every=eval_every,
        )
        self.epochs_per_stage = list(epochs_per_stage) if epochs_per_stage is not None else None
        self.augment = augment
        self._unchanged_dataset = None

    # -- protocol ---------------------------------------------------------------
    def _before_training_exp(self, **kwargs: Any) -> None:
        if self.epochs_per_stage is not None:
            stage = getattr(self.experience, "stage", None)
            if stage is None:
                with self.experience.no_attribute_masking():
                    stage = self.experience.current_experience + 1
            self.train_epochs = self.epochs_per_stage[stage - 1]
        super()._before_training_exp(**kwargs)

    def check_model_and_optimizer(self, reset_optimizer_state: bool = True, **kwargs: Any) -> None:
        # Paper A: "The optimiser's statistics were reset between the warm up and the tuning phase."
        super().check_model_and_optimizer(reset_optimizer_state=True, **kwargs)

    # -- data ---------------------------------------------------------------------
    def train_dataset_adaptation(self, **kwargs: Any) -> None:
        super().train_dataset_adaptation(**kwargs)
        self._unchanged_dataset = self.adapted_dataset

    def eval_dataset_adaptation(self, **kwargs: Any) -> None:
        super().eval_dataset_adaptation(**kwargs)
        self._unchanged_dataset = self.adapted_dataset

    def _fast(self) -> bool:
        """Our experience, and no plugin has swapped its dataset."""
        return isinstance(self.experience, StageExperience) and self.adapted_dataset is self._unchanged_dataset

    def make_train_dataloader(self, shuffle: bool = True, **kwargs: Any) -> None:
        if self._fast():
            self.dataloader = self.experience.batches(self.train_mb_size, self.device, shuffle=shuffle, augment=self.augment)
        else:
            super().make_train_dataloader(shuffle=shuffle, **kwargs)

    def make_eval_dataloader(self, **kwargs: Any) -> None:
        if self._fast():
            self.dataloader = self.experience.batches(self.eval_mb_size, self.device, shuffle=False)
        else:
            super().make_eval_dataloader(**kwargs)


class StopAtTrainAccuracy(SupervisedPlugin):
    """Ends a pretraining stage once an epoch's train accuracy reaches `target`
    (the `until_acc` epoch schedule; the stage's epochs are then an upper bound).
    The final stage always runs its full budget."""

    def __init__(self, target: float) -> None:
        super().__init__()
        self.target = target
        self._run = _Running()  # correct predictions of the epoch, summed on the device

    def before_training_epoch(self, strategy, **kwargs: Any) -> None:
        self._run.reset()

    def after_training_iteration(self, strategy, **kwargs: Any) -> None:
        self._run.update(strategy.mb_output, strategy.mb_y, strategy.loss)

    def after_training_epoch(self, strategy, **kwargs: Any) -> None:
        if getattr(strategy.experience, "is_final", True) or not self._run.n:
            return
        if self._run.read()[0] >= self.target:
            strategy.stop_training()
