from .version import __version__

mmcv_minimum_version = '1.3.17'
mmcv_maximum_version = '1.8.0'

__all__ = ['__version__']
