"""SegNet encoders: VGG blocks whose max-poolings record where each kept value came from.

SegNet (Badrinarayanan et al., 2017) keeps, for every 2x2 pooling window, the position of
its maximum; the decoder's max-unpooling puts values back there. So these backbones return
`PooledMaps`: the usual list of maps (each block's pooled output) plus each pooling's
indices and input size. `segnet_vgg16` is the paper's encoder, VGG-16's thirteen
convolutions with BatchNorm, numbered as torchvision's `vgg16_bn.features` so its weights
fit; `segnet_small` is a narrower four-block version for small images and small machines.
"""

from __future__ import annotations

from torch import Tensor, nn

from taskkit.backbone import Backbone, PooledMaps
from taskkit.plugins.vgg.models import VGG16_BLOCKS, Blocks, init_features


class SegNetEncoder(Backbone):
    """VGG-style blocks (3x3 convolution, BatchNorm, ReLU) each ended by a 2x2 max-pooling that
    records its indices. Stages: block1 (the stem) to the last block, one pooled map each.

    Subclasses set `blocks`, the convolution widths of each block. Every block halves the
    resolution, so an input needs at least 2 pixels per block along each side.
    """

    blocks: Blocks
    records_pool_indices = True

    def __init__(self, in_channels: int = 3, img_size: int = 224):
        super().__init__()
        layers: list[nn.Module] = []
        self._spans = []
        channels = in_channels
        for widths in self.blocks:
            start = len(layers)
            for width in widths:
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                channels = width
            self._spans.append((start, len(layers)))
            layers.append(nn.MaxPool2d(2, stride=2, return_indices=True))
        self.features = nn.Sequential(*layers)
        self._stages = [self.features[start:end] for start, end in self._spans]
        self._pools = [self.features[end] for _, end in self._spans]
        self.stage_names = [f"block{i}" for i in range(1, len(self.blocks) + 1)]
        self.out_channels = [widths[-1] for widths in self.blocks]
        self.reductions = [2 ** i for i in range(1, len(self.blocks) + 1)]
        self.stage_depths = [len(widths) for widths in self.blocks]
        init_features(self.features)

    def stages(self) -> list[nn.Module]:
        """The convolutions of each block (the poolings have no weights), kept out of the module
        tree so that `features.N` are the only parameter names."""
        return list(self._stages)

    def forward(self, x: Tensor) -> PooledMaps:
        maps, indices, sizes = [], [], []
        for stage, pool in zip(self._stages, self._pools):
            x = stage(x)
            sizes.append(tuple(x.shape[-2:]))
            x, where = pool(x)
            maps.append(x)
            indices.append(where)
        return PooledMaps(maps, indices, sizes)


class SegNetVGG16(SegNetEncoder):
    """SegNet's encoder (2017): VGG-16-BN's 13 convolutions in five blocks, each pooling with indices.

    Layout of torchvision's `vgg16_bn.features`; the `segnet` decoder mirrors it.
    """

    blocks = VGG16_BLOCKS
    min_img_size = 32


class SegNetSmall(SegNetEncoder):
    """A small SegNet encoder: four blocks of two convolutions, 32 to 256 wide, each pooling with indices.

    For small images (from 16 px) and CPUs: narrower than VGG-16 and one block shallower.
    """

    blocks = ((32, 32), (64, 64), (128, 128), (256, 256))
    min_img_size = 16
