"""The ResNet family: shapes, the paper's knobs, layer groups, the registry."""

from __future__ import annotations

import pytest
import torch

from plasticity_bench.errors import ConfigError
from plasticity_bench.models import MODELS, GROUPS, ResNet, create_model, layer_groups


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("dims,shape", [(1, (4, 1, 40)), (2, (4, 3, 32, 32))])
def test_every_model_runs_in_1d_and_2d_and_names_its_groups(name, dims, shape):
    torch.manual_seed(0)
    m = create_model(name, spatial_dims=dims, in_channels=shape[1], num_classes=7)
    assert m(torch.randn(*shape)).shape == (4, 7)
    groups = layer_groups(m)
    assert tuple(sorted(groups)) == GROUPS
    # The groups cover every parameter exactly once.
    owned = [id(p) for g in groups.values() for mod in g for p in mod.parameters()]
    assert sorted(owned) == sorted(id(p) for p in m.parameters())


def test_resnet18_has_the_standard_cifar_parameter_count():
    m = create_model("resnet18", spatial_dims=2, in_channels=3, num_classes=10)
    assert sum(p.numel() for p in m.parameters()) == 11_173_962


def test_width_and_depth_are_the_papers_knobs():
    m = create_model("resnet", spatial_dims=2, in_channels=3, num_classes=10, width=16, depth=3)
    assert [len(getattr(m, f"layer{i}")) for i in (1, 2, 3, 4)] == [3, 3, 3, 3]
    assert [getattr(m, f"layer{i}")[0].conv1.out_channels for i in (1, 2, 3, 4)] == [16, 32, 64, 128]
    assert m.fc.in_features == 128


def test_resnet18_refuses_other_widths():
    with pytest.raises(ConfigError, match="width"):
        create_model("resnet18", spatial_dims=2, in_channels=3, num_classes=10, width=32)


def test_a_model_without_groups_gets_a_clear_error():
    with pytest.raises(ConfigError, match="does not name its layer groups"):
        layer_groups(torch.nn.Linear(3, 2))


def test_registry_refuses_duplicates_and_unknown_names():
    with pytest.raises(ValueError, match="already registered"):
        MODELS.add("resnet", lambda **kw: None)
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        create_model("nope", spatial_dims=1, in_channels=1, num_classes=2)


def test_same_seed_same_weights():
    torch.manual_seed(4)
    a = ResNet(spatial_dims=1, in_channels=1, num_classes=10, width=8, depth=1).state_dict()
    torch.manual_seed(4)
    b = ResNet(spatial_dims=1, in_channels=1, num_classes=10, width=8, depth=1).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
