# The same config, fixed: the accumulation hook is the optimizer_config, the head is imported,
# and DDP is told about unused parameters.
_base_ = './faster_rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['projects.my_head'], allow_failed_imports=False)
model = dict(
    roi_head=dict(
        bbox_head=dict(type='MyBBoxHead', num_classes=3)))
optimizer_config = dict(
    _delete_=True, type='GradientCumulativeOptimizerHook', cumulative_iters=4)
find_unused_parameters = True
