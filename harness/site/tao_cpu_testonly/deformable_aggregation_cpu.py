"""TEST-ONLY pure-PyTorch stand-in for TAO's compiled ``deformable_aggregation_ext``.

TAO ships the op only as a CUDA extension built for the container's torch, and
``model/ops/deformable_aggregation.py`` imports it unconditionally. This module
is served under the extension's name (see ``tao_cpu_testonly.install``) and
exposes the same two functions with the kernel's semantics:

* ``mc_ms_feat`` [bs, num_feat, C]: per camera and scale, an h*w block starting
  at ``scale_start_index[cam, scale]``; ``spatial_shape`` [cams, scales, (h, w)].
* ``sampling_location`` [bs, anchors, pts, cams, (x, y)] normalised to the image;
  a point with x or y outside the open interval (0, 1) contributes nothing
  (the kernel returns early), inside it is sampled bilinearly at
  ``loc * size - 0.5`` with zero outside the feature map (== grid_sample with
  align_corners=False, padding zeros).
* ``weights`` [bs, anchors, pts, cams, scales, groups]; channel c uses group
  ``c // (C / groups)``. Output [bs, anchors, C] sums over pts, cams, scales.

The backward is the autograd of the same expression, written into the
caller's zero-initialised gradient buffers as the kernel does.
"""
import torch
import torch.nn.functional as F


def deformable_aggregation(mc_ms_feat, spatial_shape, scale_start_index, sampling_location, weights):
    """Differentiable reference of the kernel (any float dtype; used for gradcheck)."""
    bs, _, num_embeds = mc_ms_feat.shape
    _, num_anchors, num_pts, num_cams, _ = sampling_location.shape
    num_scales, num_groups = weights.shape[4], weights.shape[5]
    group_dims = num_embeds // num_groups
    shapes = spatial_shape.reshape(num_cams, num_scales, 2).tolist()
    starts = scale_start_index.reshape(num_cams, num_scales).tolist()

    output = mc_ms_feat.new_zeros(bs, num_anchors, num_groups, group_dims)
    for cam in range(num_cams):
        loc = sampling_location[:, :, :, cam]  # [bs, A, P, 2]
        valid = ((loc > 0) & (loc < 1)).all(dim=-1).to(mc_ms_feat.dtype)  # [bs, A, P]
        grid = loc * 2 - 1
        for scale in range(num_scales):
            h, w = shapes[cam][scale]
            start = starts[cam][scale]
            feat = mc_ms_feat[:, start:start + h * w].reshape(bs, h, w, num_embeds).permute(0, 3, 1, 2)
            sampled = F.grid_sample(feat, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            sampled = sampled.permute(0, 2, 3, 1).reshape(bs, num_anchors, num_pts, num_groups, group_dims)
            wgt = weights[:, :, :, cam, scale] * valid[..., None]  # [bs, A, P, G]
            output = output + (sampled * wgt[..., None]).sum(dim=2)
    return output.reshape(bs, num_anchors, num_embeds)


def deformable_aggregation_forward(mc_ms_feat, spatial_shape, scale_start_index, sampling_location, weights):
    """Same signature and result as the extension's forward."""
    with torch.no_grad():
        return deformable_aggregation(mc_ms_feat, spatial_shape, scale_start_index, sampling_location, weights)


def deformable_aggregation_backward(
    mc_ms_feat, spatial_shape, scale_start_index, sampling_location, weights,
    grad_output, grad_mc_ms_feat, grad_sampling_location, grad_weights,
):
    """Same signature as the extension's backward: accumulates into the three grad buffers."""
    with torch.enable_grad():
        inputs = [t.detach().requires_grad_(True) for t in (mc_ms_feat, sampling_location, weights)]
        out = deformable_aggregation(inputs[0], spatial_shape, scale_start_index, inputs[1], inputs[2])
        grads = torch.autograd.grad(out, inputs, grad_output)
    for buf, grad in zip((grad_mc_ms_feat, grad_sampling_location, grad_weights), grads):
        buf.add_(grad)
