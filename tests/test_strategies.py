"""The strategies: each does exactly what it states, and they compose."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from avalanche.core import SupervisedPlugin

from plasticity_bench.errors import ConfigError
from plasticity_bench.models import MODELS, create_model, layer_groups
from plasticity_bench.optim import create_optimizer
from plasticity_bench.runner import run_experiment, train_run
from plasticity_bench.scenarios.incremental import warm_start
from plasticity_bench.strategies import STRATEGIES, check_options, make_plugins
from plasticity_bench.strategies.l2_init import L2Init
from plasticity_bench.strategies.reset_layers import ResetLayers, parse_groups
from plasticity_bench.strategies.shrink_perturb import ShrinkPerturb
from plasticity_bench.training import PlasticityStrategy

CPU = torch.device("cpu")


class StageProbe(SupervisedPlugin):
    """After the strategy plugins: the model's state at the start of each stage (after
    any reset), and the live optimiser at the first step of each stage."""

    def __init__(self):
        super().__init__()
        self.state, self.optim = {}, {}

    def before_training_exp(self, strategy, **kw):
        self.state[strategy.experience.stage] = {k: v.detach().clone() for k, v in strategy.model.state_dict().items()}

    def before_update(self, strategy, **kw):
        stage = strategy.experience.stage
        if stage not in self.optim:
            opt = strategy.optimizer
            self.optim[stage] = (type(opt).__name__, [g["lr"] for g in opt.param_groups],
                                 opt.param_groups[0].get("momentum"))


class EndOfStage(SupervisedPlugin):
    def __init__(self):
        super().__init__()
        self.state = {}

    def after_training_exp(self, strategy, **kw):
        self.state[strategy.experience.stage] = {k: v.detach().clone() for k, v in strategy.model.state_dict().items()}


def _warm(tiny_data, plugins, *, epochs=(2, 1), lr=1e-3, optimizer="adam", seed=0):
    torch.manual_seed(seed)
    model = create_model("resnet_mini", spatial_dims=1, in_channels=1, num_classes=10)
    s = PlasticityStrategy(model=model, optimizer=create_optimizer(optimizer, model.parameters(), lr),
                           train_mb_size=64, plugins=plugins, eval_every=-1, epochs_per_stage=list(epochs))
    s.train(warm_start(tiny_data, seed=seed).train_stream)
    return model


# -- reset_layers ------------------------------------------------------------------------------
def _names_in(model, groups):
    named = layer_groups(model)
    ids = {id(m) for g in groups for top in named[g] for m in top.modules()}
    out = set()
    for mod_name, m in model.named_modules():
        if id(m) in ids:
            out |= {f"{mod_name}.{k}" if mod_name else k for k, _ in m.named_parameters(recurse=False)}
            out |= {f"{mod_name}.{k}" if mod_name else k for k, _ in m.named_buffers(recurse=False)}
    return out


@pytest.mark.parametrize("groups", ["4-6", "1", "2,5", (3,)])
def test_reset_layers_changes_exactly_the_chosen_groups(tiny_data, groups):
    end, probe = EndOfStage(), StageProbe()
    model = _warm(tiny_data, [ResetLayers(groups=groups), end, probe])
    before, after = end.state[1], probe.state[2]  # end of pretraining; start of the final stage
    chosen = _names_in(model, parse_groups(groups))
    assert chosen and chosen < set(before)
    for k in before:
        if k in chosen:
            continue
        assert torch.equal(before[k], after[k]), f"{k} is outside the groups but changed"
    fresh = create_model("resnet_mini", spatial_dims=1, in_channels=1, num_classes=10).state_dict()
    kinds = {f"{n}.{k}": type(m) for n, m in model.named_modules()
             for k, _ in [*m.named_parameters(recurse=False), *m.named_buffers(recurse=False)]}
    for k in chosen:
        new, old = after[k], before[k]
        if kinds[k] is torch.nn.BatchNorm1d:  # BatchNorm: back to its initial constants
            leaf = k.rsplit(".", 1)[1]
            want = {"weight": 1, "bias": 0, "running_mean": 0, "running_var": 1, "num_batches_tracked": 0}[leaf]
            assert torch.all(new == want), k
            assert not torch.equal(new, old), k  # it had moved during pretraining
        else:  # conv and fc: a fresh random draw, not zeros, not the old values, the initial spread
            assert new.abs().sum() > 0 and not torch.equal(new, old), k
            if new.numel() >= 64:
                assert new.std().item() == pytest.approx(fresh[k].std().item(), rel=0.35), k


def test_reset_layers_groups_are_parsed_and_checked():
    assert parse_groups("4-6") == (4, 5, 6) and parse_groups("1, 3") == (1, 3)
    assert parse_groups(6) == (6,) and parse_groups((2, 3)) == (2, 3)
    for bad in ("0-2", "7", "4-", "a", "", (1, 1), "3-1"):
        with pytest.raises(ConfigError, match="strategy_options.reset_layers.groups"):
            parse_groups(bad)


def test_reset_layers_on_a_model_without_groups_is_refused_before_anything_runs(tiny_config):
    class Plain(torch.nn.Module):
        def __init__(self, **kw):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(40, 10))

        def forward(self, x):
            return self.net(x)

    MODELS.add("plain_linear", lambda **kw: Plain())
    try:
        cfg = tiny_config.replace(model="plain_linear", strategy=("reset_layers",))
        with pytest.raises(ConfigError, match="does not name its layer groups"):
            run_experiment(cfg)
        assert not __import__("os").path.exists(cfg.output_dir)
        run_experiment(cfg.replace(strategy=("naive",), seeds=(0,)))  # fine without resets
    finally:
        MODELS.remove("plain_linear")


# -- learning rates and optimisers -----------------------------------------------------------
@pytest.mark.parametrize(
    "name,cls,momentum", [("adam", "Adam", None), ("rmsprop", "RMSprop", 0), ("sgd", "SGD", 0), ("sgd_momentum", "SGD", 0.9)]
)
def test_each_stage_uses_the_optimiser_asked_for(tiny_data, name, cls, momentum):
    probe = StageProbe()
    _warm(tiny_data, [probe], optimizer=name, lr=0.01)
    for stage in (1, 2):
        assert probe.optim[stage] == (cls, [0.01], momentum)


@pytest.mark.parametrize(
    "options,expected",
    [({}, [1e-3, 1e-2]), ({"tune_mult": 3.0}, [1e-3, 3e-3]), ({"pretrain_lr": 0.002, "tune_lr": 0.05}, [0.002, 0.05]),
     ({"pretrain_mult": 0.5, "tune_mult": 1.0}, [5e-4, 1e-3])],
)
def test_high_lr_sets_each_stages_rate_on_the_live_optimiser(tiny_data, options, expected):
    probe = StageProbe()
    _warm(tiny_data, make_plugins(["high_lr"], {"high_lr": options}) + [probe])
    assert [probe.optim[1][1][0], probe.optim[2][1][0]] == pytest.approx(expected)


def test_scratch_learning_rate_is_its_own_field(tiny_config, tiny_data):
    from avalanche.logging import BaseLogger

    class LR(BaseLogger):
        lrs = []

        def after_training_epoch(self, strategy, metric_values):
            self.lrs.append(strategy.optimizer.param_groups[0]["lr"])

    cfg = tiny_config.replace(strategy=("high_lr",), scratch_lr=0.03)
    train_run(cfg, tiny_data, 0, "scratch", device=CPU, sink=lambda *a: None, loggers=[LR()])
    assert set(LR.lrs) == {0.03}
    assert cfg.scratch_dict()["lr"] == 0.03 and cfg.replace(scratch_lr=None).scratch_dict()["lr"] == cfg.lr


@pytest.mark.parametrize("options,field", [({"tune_lr": -1.0}, "tune_lr"), ({"tune_lr": 0.1, "tune_mult": 2.0}, "tune_mult"),
                                           ({"pretrain_mult": 0.0}, "pretrain_mult")])
def test_high_lr_refuses_impossible_rates(options, field):
    with pytest.raises(ConfigError, match=f"strategy_options.high_lr.{field}"):
        make_plugins(["high_lr"], {"high_lr": options})


# -- shrink and perturb -------------------------------------------------------------------
def test_shrink_perturb_one_zero_is_exactly_naive(tiny_data):
    naive = _warm(tiny_data, []).state_dict()
    sp = _warm(tiny_data, [ShrinkPerturb(shrink=1.0, noise=0.0)]).state_dict()
    assert all(torch.equal(naive[k], sp[k]) for k in naive)


def test_shrink_perturb_zero_one_is_a_full_reset_of_the_parameters(tiny_data):
    plugin, probe = ShrinkPerturb(shrink=0.0, noise=1.0), StageProbe()
    model = _warm(tiny_data, [plugin, probe])
    start = probe.state[2]
    params = dict(model.named_parameters())
    assert plugin.last_fresh.keys() == params.keys()
    for k in params:
        assert torch.equal(start[k], plugin.last_fresh[k]), k  # exactly the fresh draw
    fresh = create_model("resnet_mini", spatial_dims=1, in_channels=1, num_classes=10).state_dict()
    w = "layer3.0.conv1.weight"
    assert start[w].std().item() == pytest.approx(fresh[w].std().item(), rel=0.25)


def test_shrink_perturb_mixes_old_and_fresh_weights(tiny_data):
    plugin, end, probe = ShrinkPerturb(shrink=0.4, noise=0.1), EndOfStage(), StageProbe()
    model = _warm(tiny_data, [end, plugin, probe])
    for k, _ in model.named_parameters():
        expected = 0.4 * end.state[1][k] + 0.1 * plugin.last_fresh[k]
        assert torch.allclose(probe.state[2][k], expected, atol=1e-7), k


# -- l2_init -------------------------------------------------------------------------------------
def test_l2_init_adds_the_penalty_it_states():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 3))
    theta0 = [p.detach().clone() for p in model.parameters()]
    coef = 0.25
    seen = []

    class Check(SupervisedPlugin):
        def before_backward(self, strategy, **kw):
            data_loss = F.cross_entropy(strategy.mb_output, strategy.mb_y)
            by_hand = sum(((p - p0) ** 2).sum() for p, p0 in zip(strategy.model.parameters(), theta0))
            seen.append((strategy.loss.item(), (data_loss + coef * by_hand).item(), by_hand.item()))

    x, y = torch.randn(8, 1, 6), torch.randint(0, 3, (8,))
    from avalanche.benchmarks.utils import as_classification_dataset
    from avalanche.benchmarks.scenarios.dataset_scenario import benchmark_from_datasets
    from torch.utils.data import TensorDataset

    ds = TensorDataset(x, y)
    ds.targets = y.tolist()
    bm = benchmark_from_datasets(train=[as_classification_dataset(ds)])
    PlasticityStrategy(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.5), train_mb_size=4,
                       train_epochs=2, plugins=[L2Init(coef=coef), Check()], eval_every=-1).train(bm.train_stream)
    assert len(seen) == 4 and seen[0][2] == 0.0  # the first step starts at θ0
    for got, expected, dist in seen[1:]:
        assert dist > 0 and got == pytest.approx(expected, rel=1e-6)


# -- registry, options, composition ----------------------------------------------------------------
def test_options_are_typed_and_validated():
    assert check_options("reset_layers", {"groups": [4, 5]}) == {"groups": (4, 5)}
    assert check_options("high_lr", {"tune_lr": 1}) == {"tune_lr": 1.0}
    with pytest.raises(ConfigError, match=r"unknown option of strategy 'l2_init'; allowed: coef: float = 0.001"):
        check_options("l2_init", {"strength": 1.0})
    with pytest.raises(ConfigError, match=r"strategy_options.l2_init.coef: expected float, got str"):
        check_options("l2_init", {"coef": "big"})


def test_duplicate_strategy_names_are_refused():
    from plasticity_bench.strategies import register_strategy

    with pytest.raises(ValueError, match="already registered"):
        register_strategy("naive")(type("Again", (SupervisedPlugin,), {}))


def test_options_must_be_keyword_only_typed_with_defaults():
    from plasticity_bench.strategies import register_strategy

    class Bad(SupervisedPlugin):
        def __init__(self, strength=1.0):
            super().__init__()

    with pytest.raises(TypeError, match="keyword-only, typed and have a default"):
        register_strategy("bad_positional")(Bad)
    assert "bad_positional" not in STRATEGIES


def test_composition_applies_both_in_the_documented_order(tiny_data):
    end, probe = EndOfStage(), StageProbe()
    plugins = make_plugins(["reset_layers", "high_lr"], {"reset_layers": {"groups": "6"}})
    model = _warm(tiny_data, [end, *plugins, probe])
    assert [type(p).__name__ for p in plugins] == ["ResetLayers", "HighLR"]
    assert probe.optim[2][1] == [pytest.approx(1e-2)]  # high_lr's final-stage rate
    assert not torch.equal(probe.state[2]["fc.weight"], end.state[1]["fc.weight"])  # group 6 re-drawn
    assert torch.equal(probe.state[2]["layer1.0.conv1.weight"], end.state[1]["layer1.0.conv1.weight"])
    assert model is not None
