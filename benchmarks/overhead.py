"""Framework overhead: seconds per training epoch of plasticity-bench's naive strategy
(`PlasticityStrategy`, as the runner builds it: train accuracy/loss metrics and the
epoch recorder attached) against a hand-written PyTorch loop over in-memory tensors.

Same model (fresh copies of one initialisation), data, batch size (128), optimiser
(Adam, lr 1e-3) and mini-batch order source; test evaluation is off in both, so
this is the training epoch alone. The two are measured alternately in one process
(blocks of `--epochs` epochs, `--rounds` times) so that machine noise hits both;
the per-epoch medians and their ratio are printed, the ratio last.
Target: ratio <= 1.10 on the embedded default on CPU.

`--stock` also times Avalanche's stock `Naive` (per-example DataLoader, default
evaluator without loggers) for comparison.

    python benchmarks/overhead.py --threads 2            # ~2 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=3, help="epochs per timed block")
    ap.add_argument("--num-samples", type=int, default=5000)
    ap.add_argument("--model", default="resnet_mini")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--stock", action="store_true", help="also time Avalanche's stock Naive")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from avalanche.core import SupervisedPlugin

    from plasticity_bench.config import ExperimentConfig
    from plasticity_bench.metrics.accuracy import EpochAccuracyLoss
    from plasticity_bench.recording import EpochRecorder
    from plasticity_bench.runner import initial_model, load_data, resolve_device
    from plasticity_bench.scenarios.incremental import warm_start
    from plasticity_bench.training import LeanEvaluationPlugin, PlasticityStrategy

    device = resolve_device(args.device)
    cfg = ExperimentConfig(num_samples=args.num_samples, model=args.model)
    data = load_data(cfg)
    final = list(warm_start(data, seed=0).train_stream)[-1]  # the full training set
    model0 = initial_model(cfg, data, 0)
    x, y = data.train_x.to(device), data.train_y.to(device)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {device}; "
          f"{args.model} on mnist1d ({len(y)} training examples), batch 128, Adam 1e-3")

    class EpochTimer(SupervisedPlugin):
        def __init__(self) -> None:
            super().__init__()
            self.times: list[float] = []

        def before_training_epoch(self, strategy, **kw):
            self._t = time.perf_counter()

        def after_training_epoch(self, strategy, **kw):
            if device.type == "cuda":
                torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self._t)

    def framework_block(model, timer) -> None:
        strat = PlasticityStrategy(
            model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3), train_mb_size=128,
            train_epochs=args.epochs, device=device, plugins=[timer], eval_every=-1,
            evaluator=LeanEvaluationPlugin(EpochAccuracyLoss(), loggers=[EpochRecorder(lambda *a: None)]),
        )
        strat.train(final)

    def stock_block(model, timer) -> None:
        from avalanche.training import Naive
        from avalanche.training.plugins import EvaluationPlugin
        from avalanche.evaluation.metrics import accuracy_metrics, loss_metrics

        strat = Naive(
            model=model, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3), train_mb_size=128,
            train_epochs=args.epochs, device=device, plugins=[timer],
            evaluator=EvaluationPlugin(accuracy_metrics(epoch=True), loss_metrics(epoch=True), loggers=[]),
        )
        strat.train(final)

    def plain_block(model, times) -> None:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(0)
        model.train()
        for _ in range(args.epochs):
            t = time.perf_counter()
            for b in torch.randperm(len(y), generator=gen).to(device).split(128):
                opt.zero_grad()
                loss = F.cross_entropy(model(x[b]), y[b])
                loss.backward()
                opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)

    plain: list[float] = []
    fw, stock = EpochTimer(), EpochTimer()
    for r in range(args.rounds):
        plain_block(copy.deepcopy(model0).to(device), plain)
        framework_block(copy.deepcopy(model0), fw)
        if args.stock:
            stock_block(copy.deepcopy(model0), stock)
        print(f"round {r + 1}/{args.rounds}: plain {statistics.median(plain[-args.epochs:]):.3f} s/epoch, "
              f"framework {statistics.median(fw.times[-args.epochs:]):.3f} s/epoch"
              + (f", stock Naive {statistics.median(stock.times[-args.epochs:]):.3f} s/epoch" if args.stock else ""))
    # The first epoch of each block carries one-off costs (allocator warm-up) on both sides.
    mp, mf = statistics.median(plain), statistics.median(fw.times)
    print(f"plain loop      median {mp:.4f} s/epoch over {len(plain)} epochs")
    print(f"framework naive median {mf:.4f} s/epoch over {len(fw.times)} epochs")
    if args.stock:
        ms = statistics.median(stock.times)
        print(f"stock Avalanche Naive median {ms:.4f} s/epoch (ratio to plain {ms / mp:.2f})")
    print(f"ratio framework/plain = {mf / mp:.3f}")


if __name__ == "__main__":
    main()
