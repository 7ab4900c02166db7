# A user's mmengine config: AdamW with _delete_, an mmcv-1.x accumulation hook carried over
# (mmengine wants optim_wrapper accumulative_counts), find_unused_parameters set.
_base_ = './retinanet_r50_fpn_1x_coco.py'

model = dict(bbox_head=dict(num_classes=3, loss_cls=dict(gamma=1.5)))
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2))
custom_hooks = [dict(type='GradientCumulativeOptimizerHook', cumulative_iters=2)]
find_unused_parameters = True
train_dataloader = dict(batch_size=4, dataset=dict(data_root='data/mine/'))
