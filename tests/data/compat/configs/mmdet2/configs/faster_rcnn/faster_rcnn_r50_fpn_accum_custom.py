# A user's config: gradient accumulation in custom_hooks (the FAQ's double-backward case),
# AdamW replacing SGD with _delete_, a head from the project tree that nothing imports.
_base_ = './faster_rcnn_r50_fpn_1x_coco.py'
model = dict(
    roi_head=dict(
        bbox_head=dict(type='MyBBoxHead', num_classes=3)))
optimizer = dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.05)
custom_hooks = [
    dict(type='NumClassCheckHook'),
    dict(type='GradientCumulativeOptimizerHook', cumulative_iters=4),
]
data = dict(samples_per_gpu=1)
