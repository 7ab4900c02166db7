from .builder import DATASETS, PIPELINES


@DATASETS.register_module()
class CocoDataset:
    pass


@PIPELINES.register_module()
class LoadImageFromFile:
    pass


@PIPELINES.register_module()
class LoadAnnotations:
    pass


@PIPELINES.register_module()
class Resize:
    pass


@PIPELINES.register_module()
class RandomFlip:
    pass


@PIPELINES.register_module()
class Normalize:
    pass


@PIPELINES.register_module()
class Pad:
    pass


@PIPELINES.register_module()
class DefaultFormatBundle:
    pass


@PIPELINES.register_module()
class Collect:
    pass


@PIPELINES.register_module()
class ImageToTensor:
    pass


@PIPELINES.register_module()
class MultiScaleFlipAug:
    pass
