"""The ResNet family of the paper (Appendix A.4), in 1-D and 2-D, and the model registry.

Shape (He et al. 2016; CIFAR variant as in Ash & Adams 2019):

    stem     conv3 (w channels, stride 1) + BN + ReLU       no max-pool
    module1  d basic blocks,  w channels, stride 1
    module2  d basic blocks, 2w channels, stride 2
    module3  d basic blocks, 4w channels, stride 2
    module4  d basic blocks, 8w channels, stride 2
    head     global average pool + fully connected -> num_classes logits

`resnet18` is d = 2, w = 64. With 1-D convolutions the same family runs on
MNIST-1D (input [B, 1, 40] -> feature maps of length 40, 20, 10, 5).

Every model names its **layer groups** 1..6 for the reset strategies (paper
Fig. 6, A.5): 1 = the first conv (with its BatchNorm), 2..5 = the four modules,
6 = the fully connected output layer. `model.layer_groups()` returns them and
`model.init_module(m)` is the initialisation every parameter was drawn from,
so a reset re-samples from exactly the same distribution.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from plasticity_bench.errors import ConfigError
from plasticity_bench.registry import Registry

#: name -> factory(*, spatial_dims, in_channels, num_classes, width, depth) -> nn.Module
MODELS: Registry[Callable[..., nn.Module]] = Registry("model")

#: Layer-group numbers every registered model names (paper A.5).
GROUPS = (1, 2, 3, 4, 5, 6)


def _layers(spatial_dims: int) -> tuple[type[nn.Module], type[nn.Module], type[nn.Module]]:
    if spatial_dims == 1:
        return nn.Conv1d, nn.BatchNorm1d, nn.AdaptiveAvgPool1d
    if spatial_dims == 2:
        return nn.Conv2d, nn.BatchNorm2d, nn.AdaptiveAvgPool2d
    raise ConfigError("model", f"spatial_dims must be 1 or 2, got {spatial_dims}")


class BasicBlock(nn.Module):
    """Two 3-wide convs with BatchNorm and an identity (or 1x1-conv) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int, spatial_dims: int) -> None:
        super().__init__()
        conv, bn, _ = _layers(spatial_dims)
        self.conv1 = conv(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = bn(cout)
        self.conv2 = conv(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = bn(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(conv(cin, cout, 1, stride=stride, bias=False), bn(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet with width `w` (channels w, 2w, 4w, 8w) and `depth` blocks per module."""

    def __init__(
        self,
        *,
        spatial_dims: int,
        in_channels: int,
        num_classes: int,
        width: int = 64,
        depth: int = 2,
    ) -> None:
        super().__init__()
        conv, bn, pool = _layers(spatial_dims)
        self.spatial_dims, self.width, self.depth = spatial_dims, width, depth
        self.conv1 = conv(in_channels, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = bn(width)
        self.relu = nn.ReLU(inplace=True)
        modules = []
        cin = width
        for i in range(4):
            cout = width * 2**i
            blocks = [
                BasicBlock(cin if j == 0 else cout, cout, 2 if (i > 0 and j == 0) else 1, spatial_dims)
                for j in range(depth)
            ]
            modules.append(nn.Sequential(*blocks))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = modules
        self.pool = pool(1)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            self.init_module(m)

    @staticmethod
    def init_module(m: nn.Module) -> None:
        """The initialisation distribution (torchvision's ResNet scheme).

        Applied to each submodule itself, not recursively: conv kernels are
        Kaiming-normal (fan_out, ReLU gain); BatchNorm weight 1, bias 0, running
        mean 0 and variance 1; the fc layer PyTorch's default (Kaiming-uniform
        with a = sqrt(5), bias uniform in +-1/sqrt(fan_in)).
        """
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.reset_parameters()  # weight=1, bias=0, running stats and batch count reset
        elif isinstance(m, nn.Linear):
            m.reset_parameters()

    def layer_groups(self) -> dict[int, list[nn.Module]]:
        """Layer groups 1..6 as the paper numbers them (A.5)."""
        return {
            1: [self.conv1, self.bn1],
            2: [self.layer1],
            3: [self.layer2],
            4: [self.layer3],
            5: [self.layer4],
            6: [self.fc],
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [B, C, L] (1-D) or [B, C, H, W] (2-D) -> logits [B, num_classes]
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def _register_resnet(name: str, width: int, depth: int, *, fixed: bool, description: str) -> None:
    def factory(*, spatial_dims: int, in_channels: int, num_classes: int, width: int | None = None, depth: int | None = None) -> ResNet:
        w, d = (width_default if width is None else width), (depth_default if depth is None else depth)
        if fixed and (w, d) != (width_default, depth_default):
            bad = "width" if w != width_default else "depth"
            raise ConfigError(bad, f"{name} fixes width={width_default}, depth={depth_default}; use model='resnet' to change them")
        return ResNet(spatial_dims=spatial_dims, in_channels=in_channels, num_classes=num_classes, width=w, depth=d)

    width_default, depth_default = width, depth
    factory.__name__ = name
    MODELS.add(name, factory, description=description, width=width, depth=depth, fixed=fixed)


_register_resnet("resnet", 64, 2, fixed=False, description="ResNet family of the paper (A.4): width w, depth d (default w=64, d=2)")
_register_resnet("resnet18", 64, 2, fixed=True, description="ResNet-18, CIFAR variant (3x3 stem, no max-pool): d=2, w=64")
_register_resnet(
    "resnet_mini", 8, 1, fixed=False,
    description="CPU-sized member of the family (w=8, d=1; 29k parameters on MNIST-1D), the embedded default",
)


def create_model(
    name: str,
    *,
    spatial_dims: int,
    in_channels: int,
    num_classes: int,
    width: int | None = None,
    depth: int | None = None,
) -> nn.Module:
    """Build a registered model by name. Seed torch's RNG first for a repeatable draw."""
    factory = MODELS.get(name, field_name="model")
    return factory(
        spatial_dims=spatial_dims, in_channels=in_channels, num_classes=num_classes, width=width, depth=depth
    )


def layer_groups(model: nn.Module) -> dict[int, list[nn.Module]]:
    """The model's layer groups 1..6, or a clear error if it does not name them."""
    fn = getattr(model, "layer_groups", None)
    if fn is None:
        raise ConfigError(
            "model",
            f"{type(model).__name__} does not name its layer groups; "
            "models used with layer resets must define layer_groups() -> {1..6: [modules]}",
        )
    groups = fn()
    if sorted(groups) != list(GROUPS):
        raise ConfigError("model", f"{type(model).__name__}.layer_groups() must return groups 1..6, got {sorted(groups)}")
    return groups
