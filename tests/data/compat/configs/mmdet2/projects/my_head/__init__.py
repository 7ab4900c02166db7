from .my_bbox_head import MyBBoxHead

__all__ = ['MyBBoxHead']
