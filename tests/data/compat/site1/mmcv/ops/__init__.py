from .nms import batched_nms, nms, soft_nms
from .roi_align import RoIAlign, roi_align

__all__ = ['nms', 'soft_nms', 'batched_nms', 'RoIAlign', 'roi_align']
