"""The test-only CPU stand-in for TAO's deformable_aggregation_ext against TAO's own grid_sample path.

Runs in the harness environment (TAO on PYTHONPATH, the harness site dir loaded):
    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest tests/harness
Tolerance: float32 forward and gradients agree with the grid_sample path to
rtol 1e-4 / atol 1e-5; the gradient check runs in float64.
"""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("nvidia_tao_pytorch")

from tao_cpu_testonly.deformable_aggregation_cpu import deformable_aggregation  # noqa: E402
from nvidia_tao_pytorch.cv.sparse4d.model.blocks import DeformableFeatureAggregation  # noqa: E402
from nvidia_tao_pytorch.cv.sparse4d.model.ops.deformable_aggregation import (  # noqa: E402
    DeformableAggregationFunction,
    feature_maps_format,
)

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

TOL = dict(rtol=1e-4, atol=1e-5)


def _inputs(dtype, bs=1, cams=2, shapes=((3, 4), (2, 2)), embeds=4, groups=2, anchors=2, pts=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    spatial_shape = torch.tensor([list(shapes)] * cams, dtype=torch.int32)
    sizes = (spatial_shape[..., 0] * spatial_shape[..., 1]).flatten()
    start = torch.cat([torch.zeros(1, dtype=torch.int64), sizes.cumsum(0)[:-1]]).reshape(cams, -1).int()
    feat = torch.randn(bs, int(sizes.sum()), embeds, generator=g, dtype=dtype)
    loc = torch.rand(bs, anchors, pts, cams, 2, generator=g, dtype=dtype) * 0.9 + 0.05
    loc[0, 0, 0, 0] = torch.tensor([-0.3, 0.5])  # outside (0, 1): dropped by the kernel
    loc[0, 1, 1, 1] = torch.tensor([0.5, 1.4])
    weights = torch.rand(bs, anchors, pts, cams, len(shapes), groups, generator=g, dtype=dtype)
    return feat, spatial_shape, start, loc, weights


def test_gradcheck_double():
    feat, shape, start, loc, weights = _inputs(torch.float64)
    for t in (feat, loc, weights):
        t.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f, l, w: deformable_aggregation(f, shape, start, l, w), (feat, loc, weights))


def test_points_outside_image_are_dropped():
    feat, shape, start, loc, weights = _inputs(torch.float32)
    loc[:] = 1.2  # every point outside
    assert torch.count_nonzero(deformable_aggregation(feat, shape, start, loc, weights)) == 0


def test_tao_function_uses_stand_in_forward_and_backward():
    """TAO's autograd Function (which calls the extension API) matches autograd of the reference."""
    feat, shape, start, loc, weights = _inputs(torch.float32, bs=2, anchors=5)
    leaves = [t.clone().requires_grad_(True) for t in (feat, loc, weights)]
    out = DeformableAggregationFunction.apply(leaves[0], shape, start, leaves[1], leaves[2])
    grad_out = torch.randn_like(out)
    out.backward(grad_out)
    ref_leaves = [t.clone().requires_grad_(True) for t in (feat, loc, weights)]
    ref = deformable_aggregation(ref_leaves[0], shape, start, ref_leaves[1], ref_leaves[2])
    ref.backward(grad_out)
    torch.testing.assert_close(out, ref, **TOL)
    for a, b in zip(leaves, ref_leaves):
        torch.testing.assert_close(a.grad, b.grad, **TOL)


class _KeyPoints:
    """Stand-in key-point generator: the anchor's first num_pts*3 values are the points."""

    num_pts, num_learnable_pts = 4, 0

    def __call__(self, anchor, instance_feature):
        return anchor[..., : self.num_pts * 3].reshape(*anchor.shape[:2], self.num_pts, 3)


def test_matches_tao_grid_sample_path():
    """TAO's DeformableFeatureAggregation with use_deformable_func True (stand-in op) vs False
    (TAO's grid_sample + multi_view_level_fusion): same output and gradients, for key points
    that project strictly inside the images (where the kernel and grid_sample agree)."""
    torch.manual_seed(0)
    bs, cams, levels, embeds, anchors = 2, 2, 3, 16, 6
    module = DeformableFeatureAggregation(
        embed_dims=embeds, num_groups=4, num_levels=levels, num_cams=cams, max_num_cams=cams,
        kps_generator=_KeyPoints(), residual_mode="add",
    ).eval()
    width, height = 64.0, 48.0
    K = torch.tensor([[40.0, 0, width / 2, 0], [0, 40.0, height / 2, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    projection = torch.stack([K, K @ torch.diag(torch.tensor([-1.0, 1, 1, 1]))])  # 2nd camera mirrored in x
    metas = {"projection_mat": projection.expand(bs, cams, 4, 4), "image_wh": torch.tensor([width, height]).expand(bs, cams, 2)}
    depth = torch.rand(bs, anchors, _KeyPoints.num_pts, 1) * 3 + 2
    xy = (torch.rand(bs, anchors, _KeyPoints.num_pts, 2) - 0.5) * 0.9  # within +-0.45 of the principal ray
    points = torch.cat([xy * depth * torch.tensor([width, height]) / 40.0, depth], dim=-1)
    anchor = points.flatten(2)
    instance_feature, anchor_embed = torch.randn(bs, anchors, embeds), torch.randn(bs, anchors, embeds)
    sizes = [(12, 16), (6, 8), (3, 4)]

    results = []
    for use_func in (False, True):
        maps = [torch.randn(bs, cams, embeds, h, w, generator=torch.Generator().manual_seed(i)).requires_grad_(True)
                for i, (h, w) in enumerate(sizes)]
        module.use_deformable_func = use_func
        module.zero_grad()
        out = module(instance_feature, anchor, anchor_embed, feature_maps_format(maps) if use_func else maps, metas)
        out["instance_feature"].square().sum().backward()
        results.append((out["instance_feature"].detach(), [m.grad for m in maps], module.weights_fc.weight.grad.clone()))

    (out_gs, grads_gs, wgrad_gs), (out_op, grads_op, wgrad_op) = results
    torch.testing.assert_close(out_op, out_gs, **TOL)
    for a, b in zip(grads_op, grads_gs):
        torch.testing.assert_close(a, b, **TOL)
    torch.testing.assert_close(wgrad_op, wgrad_gs, **TOL)
