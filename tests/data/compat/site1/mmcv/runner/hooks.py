from .builder import HOOKS, RUNNERS


@HOOKS.register_module()
class OptimizerHook:
    pass


@HOOKS.register_module()
class GradientCumulativeOptimizerHook(OptimizerHook):
    pass


@HOOKS.register_module()
class TextLoggerHook:
    pass


@RUNNERS.register_module()
class EpochBasedRunner:
    pass
