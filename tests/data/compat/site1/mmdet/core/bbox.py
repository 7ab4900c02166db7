from mmcv.runner import HOOKS

from .builder import ANCHOR_GENERATORS, BBOX_ASSIGNERS, BBOX_CODERS, BBOX_SAMPLERS


@ANCHOR_GENERATORS.register_module()
class AnchorGenerator:
    pass


@BBOX_CODERS.register_module()
class DeltaXYWHBBoxCoder:
    pass


@BBOX_ASSIGNERS.register_module()
class MaxIoUAssigner:
    pass


@BBOX_SAMPLERS.register_module()
class RandomSampler:
    pass


@HOOKS.register_module()
class NumClassCheckHook:
    pass
