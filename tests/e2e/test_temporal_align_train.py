"""TAO's own ``sparse4d train`` with its temporal alignment: stock crashes, the plugin trains, a contradiction is refused."""
from conftest import BANNER

SWITCH = "model.use_temporal_align=true"
TYPE_ERROR = "TypeError: object of type 'NoneType' has no len()"


def test_the_switch_alone_crashes_stock_tao(train):
    run = train(data="objects", switch=None, overrides=[SWITCH])
    assert run.returncode != 0 or "Execution status: FAIL" in run.output
    assert TYPE_ERROR in run.output
    assert not run.scalars("loss")


def test_the_switch_alone_trains_with_the_plugin_over_a_scene_change_in_taos_default_bf16(train):
    """Also the test command's run of TAO's default ``train.precision: bf16`` with the fix (Lightning bf16-mixed,
    CPU autocast here), on scenes with objects: every loss finite, the classification loss positive. (Stock TAO's
    bf16 run is ``test_other_tasks``' export model; each TAO start costs tens of CPU-seconds.)"""
    run = train(data="objects", overrides=[SWITCH, "train.precision=bf16"], steps=6)  # 2 scenes of 3 frames
    assert run.returncode == 0, run.output[-3000:]
    assert BANNER in run.output and TYPE_ERROR not in run.output
    losses = [value for _, value in run.scalars("loss")["loss"]]
    assert len(losses) == 6 and run.all_losses_finite() and all(value > 0 for value in losses)
    classification = run.cls_losses()
    assert classification and all(value > 0 for value in classification)


def test_a_contradiction_is_refused_before_the_first_step(train):
    run = train(data="objects", overrides=["model.head.instance_bank.use_temporal_align=true"])
    assert run.returncode != 0 or "Execution status: FAIL" in run.output
    assert ("model.head.instance_bank.use_temporal_align=true but model.use_temporal_align=false" in run.output
            and "Set model.use_temporal_align=true to train with it" in run.output)
    assert not run.scalars("loss")  # no step was logged
