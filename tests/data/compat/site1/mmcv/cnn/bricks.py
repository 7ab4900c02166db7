# Registration shapes copied from mmcv 1.7 (mmcv/cnn/bricks/norm.py, activation.py, conv.py).
import torch.nn as nn

from ..utils import Registry

NORM_LAYERS = Registry('norm layer')
ACTIVATION_LAYERS = Registry('activation layer')
CONV_LAYERS = Registry('conv layer')
INITIALIZERS = Registry('initializer')

NORM_LAYERS.register_module('BN', module=nn.BatchNorm2d)
NORM_LAYERS.register_module('GN', module=nn.GroupNorm)
CONV_LAYERS.register_module('Conv', module=nn.Conv2d)

for module in [nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ReLU6, nn.ELU, nn.Sigmoid, nn.Tanh]:
    ACTIVATION_LAYERS.register_module(module=module)


@INITIALIZERS.register_module(name='Pretrained')
class PretrainedInit:
    pass
