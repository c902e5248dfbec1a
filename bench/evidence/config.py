"""The evidence set-up: fixed before any result of it was seen, the same for every arm.

Two scenarios per repeat:

* transfer (the headline; the seed report's scenario): a base model trained
  from scratch with ``corrected`` (it is the from-scratch ``corrected`` arm),
  fine-tuned on new data with ``original`` (stock TAO), ``corrected`` and
  ``unmatched_only``; then the stock fine-tune continued with ``corrected``
  (the rescue). The stock and corrected fine-tunes and the rescue write TAO
  checkpoints every ``checkpoint_every`` steps, evaluated at ``curve_steps``.
* scratch: the three modes trained from the backbone checkpoint alone.
"""
TAO = "6.25.11"
MODE_KEY = "model.head.loss.cls.background_supervision"
MODES = ("original", "corrected", "unmatched_only")
BASE_MODE = "corrected"  # the transfer base is the from-scratch arm of this mode
RESCUE = "rescue"
CURVE_ARMS = ("original", "corrected")  # fine-tunes evaluated along the way (the rescue too)

FULL = dict(
    steps=420, finetune_steps=200, rescue_steps=200, checkpoint_every=25, curve_steps=(25, 50, 100, 200),
    repeats=3, parallel=2,
    train_frames=16, test_scenes=6, test_frames=10,
    anchors=128, objects=(3, 6), width=128, height=64, cameras=2,
    ground="dark", area=7.0, camera_radius=12.0, camera_height=5.0,
    decoder_layers=2, dn_groups=2, temp_dn_groups=1,
)
# A smoke run of the whole pipeline (minutes, dominated by TAO's process start-up): two repeats
# so that the aggregation over repeats runs too. Its numbers mean nothing.
QUICK = dict(FULL, steps=3, finetune_steps=4, rescue_steps=4, checkpoint_every=2, curve_steps=(2, 4), repeats=2,
             train_frames=4, test_scenes=2, test_frames=3)

# Data seeds (plus the repeat index): the base/scratch training data, the fine-tune data, the held-out scenes.
# Training seed: RUN_SEED + repeat, the same for every arm of a repeat.
BASE_DATA_SEED, FINETUNE_DATA_SEED, HELDOUT_SEED, RUN_SEED = 0, 2000, 1000, 0

SCRATCH_REASONS = [
    "2 decoder layers (TAO's default: 6) and 2 + 1 denoising groups (default 5 + 3): the classification "
    "branch gets its gradient through fewer layers and a CPU step takes about a second, so a few hundred "
    "steps fit in the budget; the loss, the matcher, the denoising and the decoder are TAO's own.",
    "A scene layout with real background: 3-6 boxes start anywhere in a 14 m x 14 m square and the 128 anchors "
    "cover that square plus 1.5 m, so about 70 % of the queries start more than 2 m from every object, as in a "
    "warehouse or a street.",
    "Salient objects on a plain dark ground and sky, 2 cameras at 64 x 128 pixels, 12 m from the centre.",
    "420 steps per arm, batch 1, lr 2e-4: what a 2-core machine runs in the budget; unchanged from the "
    "previous published run (commit 90ad9de), where corrected and unmatched_only left their floor and stock "
    "TAO did not.",
    "Repeats differ in the training seed, the training-data seed and the held-out-data seed; within a repeat "
    "every arm trains on the same data with the same seed.",
]
TRANSFER_REASONS = [
    "The seed report's scenario: users fine-tune a model that already separates objects from background. "
    "The base is each repeat's from-scratch corrected arm (420 steps), which must itself pass the floor rule; "
    "a repeat whose base did not learn is inconclusive.",
    "Fine-tune: 200 steps from the base checkpoint (TAO's train.pretrained_model_path: weights only, fresh "
    "optimizer and LR schedule, full learning rate, nothing frozen) on new scenes from their own seed, the same "
    "data, training seed and steps for every arm. 200 steps because one scouting repeat of this kind (in the "
    "issue that asked for this run) showed the stock loss inflating background scores within that budget; "
    "fixed before any result of this run was seen.",
    "Checkpoints: TAO's own (train.checkpoint_interval_unit=step, every 25 steps) for the stock and corrected "
    "fine-tunes and the rescue; evaluated after 25, 50, 100 and 200 steps (0 = the base).",
    "Rescue: the stock fine-tune continued with corrected for 200 steps (the same budget as the fine-tune that "
    "spoiled it), on the same fine-tune data, nothing frozen, evaluated at the same points.",
    "Held-out scenes come from a third seed, the same for the base and every fine-tune of a repeat.",
]
