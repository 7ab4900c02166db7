from mmdet.models.builder import HEADS
from mmdet.models.roi_heads import Shared2FCBBoxHead


@HEADS.register_module()
class MyBBoxHead(Shared2FCBBoxHead):
    """A project's own head (registered only when this module is imported)."""
