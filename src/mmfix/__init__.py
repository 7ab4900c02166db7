"""mmfix: get OpenMMLab's mmcv built and running on this machine."""

__version__ = "0.1.0"
