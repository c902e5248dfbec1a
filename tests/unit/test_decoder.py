"""SparseBox3DDecoder.decode: identical to stock except the two fixed defects."""
import pytest
import torch

import tao_sparse4d_fix

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

LAYERS, BATCH, ANCHORS, CLASSES = 3, 2, 40, 4


def inputs(seed, with_instance_id, with_quality):
    generator = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.randn(*shape, generator=generator)  # noqa: E731
    return dict(
        cls_scores=[rand(BATCH, ANCHORS, CLASSES) for _ in range(LAYERS)],
        box_preds=[rand(BATCH, ANCHORS, 11) for _ in range(LAYERS)],
        instance_id=torch.randint(0, 1000, (BATCH, ANCHORS), generator=generator) if with_instance_id else None,
        # per-query features are gathered by query index: TAO passes them with instance_id
        instance_feature=rand(BATCH, ANCHORS, 8) if with_instance_id else None,
        qulity=[rand(BATCH, ANCHORS, 2) for _ in range(LAYERS)] if with_quality else None,
        reid_feature=rand(BATCH, ANCHORS, 5) if with_instance_id else None,
    )


def decode_both(decoder_module, kwargs, **decoder_args):
    decoder = decoder_module.SparseBox3DDecoder(**decoder_args)
    tao_sparse4d_fix.uninstall()
    stock = decoder.decode(**kwargs)
    tao_sparse4d_fix.install()
    try:
        patched = decoder.decode(**kwargs)
    finally:
        tao_sparse4d_fix.uninstall()
    return stock, patched


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("with_instance_id", [False, True])
@pytest.mark.parametrize("with_quality", [False, True])
@pytest.mark.parametrize("threshold", [None, 0.3])
def test_outputs_equal_stock_on_random_inputs(decoder_module, seed, with_instance_id, with_quality, threshold):
    kwargs = inputs(seed, with_instance_id, with_quality)
    stock, patched = decode_both(decoder_module, kwargs, num_output=30, score_threshold=threshold)
    assert len(stock) == len(patched) == BATCH
    for stock_sample, patched_sample in zip(stock, patched):
        assert stock_sample.keys() == patched_sample.keys()
        for key in stock_sample:
            assert torch.equal(stock_sample[key], patched_sample[key]), key


def test_reid_feature_list_takes_the_selected_layer(decoder_module):
    kwargs = inputs(0, True, True)
    layers = [torch.full((BATCH, ANCHORS, 5), float(layer)) for layer in range(LAYERS)]
    kwargs["reid_feature"] = layers
    decoder = decoder_module.SparseBox3DDecoder(num_output=30)
    stock = decoder.decode(**kwargs, output_idx=-1)
    assert stock[0]["reid_feats"].unique().tolist() == [float(BATCH)]  # the defect: layer = batch size

    tao_sparse4d_fix.install()
    try:
        for output_idx in (-1, 0, 1):
            patched = decoder.decode(**dict(kwargs, reid_feature=layers), output_idx=output_idx)
            expected = float(range(LAYERS)[output_idx])
            assert all(sample["reid_feats"].unique().tolist() == [expected] for sample in patched)
    finally:
        tao_sparse4d_fix.uninstall()


@pytest.mark.parametrize("with_instance_id", [False, True])
def test_num_output_above_candidates_is_clamped(decoder_module, with_instance_id):
    kwargs = inputs(1, with_instance_id, True)
    candidates = ANCHORS if with_instance_id else ANCHORS * CLASSES
    decoder = decoder_module.SparseBox3DDecoder(num_output=candidates + 50)
    tao_sparse4d_fix.uninstall()
    with pytest.raises(RuntimeError):
        decoder.decode(**kwargs)
    tao_sparse4d_fix.install()
    try:
        patched = decoder.decode(**kwargs)
    finally:
        tao_sparse4d_fix.uninstall()
    assert [len(sample["scores_3d"]) for sample in patched] == [candidates] * BATCH
    assert decoder.num_output == candidates + 50  # the setting itself is left alone
