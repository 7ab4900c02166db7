from .builder import BACKBONES, DETECTORS, HEADS, LOSSES, NECKS


@DETECTORS.register_module()
class FasterRCNN:
    pass


@BACKBONES.register_module()
class ResNet:
    pass


@NECKS.register_module()
class FPN:
    pass


@HEADS.register_module()
class RPNHead:
    pass


@HEADS.register_module()
class StandardRoIHead:
    pass


@HEADS.register_module()
class Shared2FCBBoxHead:
    pass


@LOSSES.register_module()
class CrossEntropyLoss:
    pass


@LOSSES.register_module()
class L1Loss:
    pass


@HEADS.register_module()
class SingleRoIExtractor:
    pass
