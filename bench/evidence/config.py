"""The evidence set-up: fixed before any result of it was seen, the same for every arm.

Two scenarios per repeat:

* transfer (the headline; the seed report's scenario): a base model trained
  from scratch with ``corrected`` (it is the from-scratch ``corrected`` arm),
  fine-tuned on new data with ``original`` (stock TAO), ``corrected`` and
  ``unmatched_only``; then the stock fine-tune continued with ``corrected``
  (the rescue). The stock and corrected fine-tunes and the rescue write TAO
  checkpoints every ``checkpoint_every`` steps, evaluated at ``curve_steps``.
* scratch: the three modes trained from the backbone checkpoint alone.
* temporal (Sparse4D's tracking path): the transfer scenario on scenes whose objects cross the
  observed floor (they enter and leave it and pass behind each other), so temporal denoising
  meets lost tracks (label -1); a ``corrected`` base of its own, the three fine-tunes and the
  rescue, evaluated on held-out crossing scenes for tracking.
* temporal_align: the temporal scenario's fine-tunes and rescue again, from the same bases, with
  TAO's temporally consistent matcher (``use_temporal_align``) as the plugin repairs it.

Every checkpoint of the temporal scenarios is evaluated twice on the held-out scenes: TAO's own
track IDs, and with the plugin's ID continuity (``CONTINUITY_GATE``).
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
    temporal_fps=5.0, temporal_test_frames=16, temporal_repeats=3,
)
SCENARIOS = ("scratch", "transfer", "temporal", "temporal_align", "tracker")
# A smoke run of the whole pipeline, one repeat of each scenario, in about 2 minutes on 2 cores: it proves the
# pipeline's shape, the validity labels and the records each section carries, not the effect (its numbers mean
# nothing). TAO's process start-up is most of its cost, so QUICK shares trainings (``share_trainings``): per repeat
# one training from scratch (the scratch corrected arm) and one fine-tune (the transfer scenario's original) run
# TAO; every other training of the same kind reuses that run (its record says ``alias_of`` and names the command it
# stands for), and the scenario families run side by side. Each family infers in one TAO process per repeat (the
# temporal scenario's with the tracker arms), and an identical checkpoint and setting is inferred once. The aggregation over repeats is checked on made-up runs through the real report
# (tests/bench/test_evidence_validity.py).
QUICK = dict(FULL, steps=3, finetune_steps=4, rescue_steps=4, checkpoint_every=2, curve_steps=(2, 4), repeats=1,
             train_frames=4, test_scenes=2, test_frames=3, temporal_test_frames=4, temporal_repeats=1,
             share_trainings=True, tracker_arms=("stock", "corrected+continuity", "corrected+tracker"))

# Data seeds (plus the repeat index): the base/scratch training data, the fine-tune data, the held-out scenes.
# Training seed: RUN_SEED + repeat, the same for every arm of a repeat.
BASE_DATA_SEED, FINETUNE_DATA_SEED, HELDOUT_SEED, RUN_SEED = 0, 2000, 1000, 0
TEMPORAL_BASE_DATA_SEED, TEMPORAL_FINETUNE_DATA_SEED, TEMPORAL_HELDOUT_SEED = 3000, 4000, 5000
TEMPORAL_ARMS = ("original", "corrected", "unmatched_only", RESCUE)

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
TEMPORAL_REASONS = [
    "Why IDs churned in the transfer scenario, read from TAO's code before this set-up was chosen: its objects "
    "never leave the floor (no track is ever lost, so temporal denoising never produces a -1 row) and move 3 cm a "
    "frame at 30 Hz. Scene order, timestamps (1/30 s against InstanceBank's max_time_interval of 2 s; 100 s "
    "between scenes), ego poses (fixed cameras, none needed) and the 64 temporal instances of 128 are as TAO "
    "expects, so this set-up changes the scenes, not the harness.",
    "Crossing scenes (harness/synthetic_data.py, motion=crossing): objects move straight at 1.5-3 m/s across the "
    "observed floor (a disc of radius 8.5 m, the anchors' cover) from start points up to 3 m outside it, and exist "
    "only while on it, so they enter and leave during a scene; their paths cross, so they pass behind each other in "
    "a camera's view. 5 frames per second (0.2 s per frame, 0.4 s when TAO's sampler skips one): an object moves "
    "0.3-0.6 m a frame, far below max_time_interval and the 2 m matching distance. 1.5 x 3-6 objects are drawn "
    "per scene, about 4.5-5.5 on the floor per frame, as in the steady scenes.",
    "Everything else as the transfer scenario: the same head, steps (420 base, 200 per fine-tune, 200 rescue), "
    "learning rate, seeds per repeat and arms; TAO's default matcher (use_temporal_align false, as shipped) and "
    "default instance bank. Held-out: 6 crossing scenes of 16 frames (longer than the transfer's 10, so tracks "
    "can persist, break and be lost).",
    "Tracking metrics on TAO's tracked output (detections at or above tracking_threshold 0.2, the boxes TAO's "
    "tracking results_nusc.json keeps), greedy 2 m matching per frame: ID persistence = of the pairs of "
    "consecutive frames in which a ground-truth object is matched in both, the share with the same ID; false-"
    "positive tracks = tracked IDs with no object within 2 m, per frame, and the frames each such ID lives; "
    "fragments = distinct IDs matched to one ground-truth track. Plus nuscenes-devkit AMOTA, MOTA and IDS.",
    "Diagnostics recorded in every run: -1 rows per training step (the last layer's denoising call), and which "
    "query kind the matcher gives the objects (temporal instance or fresh query) in training and at inference.",
    "No scouting run: fixed from the code reading above, before any result of this set-up was seen.",
]

# ID continuity and temporal alignment (issue 28), fixed on 2026-12-06 before any of their results was seen.
CONTINUITY_KEY = "model.head.instance_bank.id_continuity_gate"
CONTINUITY_GATE = 1.0  # metres: the distance the offline estimate used; never tuned on these runs
ALIGN_OVERRIDES = ("model.use_temporal_align=true",)  # the plugin's rule turns the bank's and head's flags on with it
# The temporal_align scenario's fine-tunes: every mode, and the rescue (from its original fine-tune). The stock
# fine-tune and the rescue were cut on 2026-12-06 for time; issue 31 asked for them back (2026-12-07, before any
# result of them).
ALIGN_MODES = MODES
TRACKING_FOLLOW_RATIO = 0.5  # a run's matched detections must move at least half as far as their objects
TRACKING_MIN_PAIRS = 20  # consecutive matched frame pairs below which a run cannot show that it follows
TRACKING_KEYS = ("id_persistence", "fp_tracks_per_frame", "fp_far_track_lifetime_frames", "fragments_per_gt_track",
                 "id_switches_per_matched_gt", "amota", "mota", "ids_per_gt_nuscenes")
TEMPORAL_ALIGN_REASONS = [
    "Why: with the fix the Hungarian matcher stops giving objects to the temporal instances that carry IDs (24-36 % of "
    "the objects in the first quarter of training, 0-4 % in the last); TAO's use_temporal_align keeps last frame's "
    "(query, object) pair for a carried query, which is what should keep objects on them.",
    "The temporal scenario's bases (corrected, 420 steps, crossing scenes) are reused: alignment is a setting of the "
    "fine-tune, as a user would switch it on for an existing model; the fine-tunes, their data, seeds and steps and "
    "the rescue are the temporal scenario's, with model.use_temporal_align=true (the plugin's rule sets the bank's "
    "and head's flags with it; TAO's default gt_assign_threshold 0.5).",
    "Arms: the original, corrected and unmatched_only fine-tunes and the rescue (the original fine-tune continued "
    "with corrected), each with alignment. (The 2026-12-06 run cut the original fine-tune and the rescue for time; "
    "issue 31 asked for them back, before any result of them.)",
    "No scouting run: fixed from the code reading and one guarded one-repeat trial (docs/evidence.md), before any "
    "result of this set-up was seen.",
]
CONTINUITY_REASONS = [
    "ID continuity is an inference setting: every final checkpoint of the temporal and temporal_align scenarios is "
    "evaluated with TAO's own IDs and again with model.head.instance_bank.id_continuity_gate=1.0 (metres), the "
    "gate of the offline estimate, on the same held-out scenes. Boxes and scores are identical both ways (checked); "
    "only the IDs differ.",
]
TRACKING_VALIDITY_RULE = (
    "A run's tracking numbers count only when its matched detections follow their objects: over every ground-truth "
    "object matched (greedy, 2 m, tracked detections) in two consecutive frames of a scene, the median distance its "
    "detection moved is at least 0.5 x the median distance the object moved, over at least 20 such pairs. A "
    "comparison with a run that fails the rule in a repeat is inconclusive in that repeat."
)
DECISION_RULE = (
    "Stock is the original fine-tune with TAO's own IDs and matcher. A setting (a mode, with or without ID "
    "continuity, with or without alignment) is advised for tracking only when, in every repeat, it has a higher ID "
    "persistence and fewer false-positive tracks per frame than stock, and it loses on none of AMOTA, nuscenes IDS "
    "per ground-truth box and false positives at matched recall (loses: worse than stock in a majority of the "
    "repeats). A repeat where either run fails the tracking validity rule or the floor rule makes the verdict "
    "inconclusive. ID continuity becomes the default (gate 1.0 m) only if corrected with continuity, no alignment, is "
    "advised; background_supervision stays corrected by default unless unmatched_only is advised with some setting "
    "and corrected with the same setting is not."
)

# --- The tracker scenario and the field's tracking metrics (issue 31), fixed on 2026-12-07 before any result. --------
# The plugin's instance-bank keys (model.head.instance_bank.KEY) an inference arm may set; infer.py passes any of them.
TRACKER_KEYS = ("id_continuity_gate", "track_gate", "track_max_age", "track_speed_gate", "track_assignment",
                "track_nms_radius")
# TAO's own IDs: every key off, named explicitly (the plugin's defaults are the evidence's advice, not off)
TRACKER_OFF = dict(id_continuity_gate=0.0, track_gate=0.0, track_max_age=0, track_speed_gate=0.0,
                   track_assignment="greedy", track_nms_radius=0.0)
ASSOCIATION = dict(id_continuity_gate=0.0, track_gate=1.0, track_max_age=0, track_speed_gate=0.0,
                   track_assignment="greedy", track_nms_radius=0.0)
FULL_TRACKER = dict(id_continuity_gate=0.0, track_gate=1.0, track_max_age=3, track_speed_gate=0.5,
                    track_assignment="hungarian", track_nms_radius=1.0)
# name -> (fine-tune of the temporal scenario whose final checkpoint is inferred, instance-bank settings, why)
TRACKER_ARMS = {
    "stock": ("original", dict(TRACKER_OFF), "stock TAO: the original fine-tune with TAO's own IDs, what every "
              "comparison is against"),
    "stock+tracker": ("original", dict(FULL_TRACKER), "whether the tracker alone rescues stock TAO's IDs (its "
                      "detections unchanged): separates the tracker's effect from the loss fix's"),
    "corrected": ("corrected", dict(TRACKER_OFF), "the fix with TAO's own IDs: the loss fix alone"),
    "corrected+continuity": ("corrected", dict(TRACKER_OFF, id_continuity_gate=CONTINUITY_GATE),
                             "today's default (ID continuity, 1 m), the setting to beat"),
    "corrected+association": ("corrected", dict(ASSOCIATION), "association to the last frame's tracks alone "
                              "(greedy, 1 m, the offline estimate's gate): the piece the offline estimate says carries "
                              "most of the gain"),
    "corrected+memory": ("corrected", dict(ASSOCIATION, track_max_age=3), "association + a 3-frame lost-track "
                         "memory (CenterPoint keeps tracks 3 frames unseen)"),
    "corrected+speed_gate": ("corrected", dict(ASSOCIATION, track_speed_gate=0.5), "association + a gate that grows "
                             "with speed x frame interval (0.5: half the predicted displacement added to 1 m)"),
    "corrected+hungarian": ("corrected", dict(ASSOCIATION, track_assignment="hungarian"), "association with optimal "
                            "assignment (scipy's linear_sum_assignment) instead of closest-first"),
    "corrected+suppression": ("corrected", dict(ASSOCIATION, track_nms_radius=1.0), "association + duplicate "
                              "suppression within 1 m keeping the older ID (changes the boxes: detection metrics too)"),
    "corrected+tracker": ("corrected", dict(FULL_TRACKER), "every piece on: the candidate default"),
}
TRACKER_STOCK = "stock"
TRACKER_REASONS = [
    "The tracker's pieces are inference settings: every arm infers a final checkpoint the temporal scenario trained "
    "(the original or the corrected fine-tune of each repeat; nothing is trained again) on the same held-out crossing "
    "scenes, with the instance-bank settings named per arm (model.head.instance_bank.KEY).",
    "Arms, fixed before any result: " + "; ".join(f"{name} ({ft} fine-tune; {why})"
                                                  for name, (ft, _, why) in TRACKER_ARMS.items()) + ".",
    "Gates in metres as the offline estimate used (1 m); lost-track memory 3 frames (CenterPoint's); speed gate 0.5; "
    "suppression radius 1 m (the low end of the offline estimate's 1-1.5 m). None tuned on these runs.",
]
# The field's tracking metrics, at ONE operating point common to every arm: every detection the decoder outputs (its
# score threshold, 0.05), beside nuscenes-devkit's own best-MOTA point.
COMMON_POINT = "every detection the decoder outputs (score >= its threshold 0.05)"
FIELD_METRICS_REASONS = [
    "nuscenes-devkit 1.2.0's TrackingEvaluation (class-agnostic, 2 m centre distance): AMOTA, AMOTP averaged over its "
    "recall thresholds; MOTA, IDS, FRAG, TID, LGD, recall at its best-MOTA threshold (each run's own threshold).",
    "At the common operating point (" + COMMON_POINT + "), per scene: py-motmetrics 1.4.0 (2 m centre distance, "
    "its Hungarian matching with ID preference) for IDF1, MOTA (mota_common) and ID switches (ids_common); TrackEval "
    "1.3.0's HOTA, DetA, AssA with similarity max(0, 1 - d / 2 m) (d: ground-plane centre distance), averaged over "
    "TrackEval's alpha thresholds 0.05-0.95 (1.9 m to 0.1 m).",
    "False-positive tracks (all): every track ID whose detections at the common point match no object in "
    "py-motmetrics' matching, duplicates next to an object included; fp_tracks_all_per_frame = their detections per "
    "frame (false-positive track-frames per frame), fp_track_lifetime_frames = the frames each such track appears in, "
    "mean over those tracks.",
    "A NaN (no recall threshold reached; nothing to average) is kept per repeat and never averaged away: tables show "
    "every repeat.",
]
# A comparison with stock on these keys reads "cannot tell" when stock's value is degenerate: NaN or None on any key,
# or 0 on a key the devkit clips at 0 (AMOTA: MOTAR is clipped at 0 per recall threshold).
CLIPPED_AT_ZERO = ("amota",)
# Must beat stock in EVERY repeat: (key, direction: +1 higher is better, -1 lower is better).
DECISION_WINS = (("hota", +1), ("idf1", +1), ("ids_common", -1))
FP_TRACK_FRACTION = 1 / 3  # fp_tracks_all_per_frame at most this fraction of stock's, in every repeat
# Must not lose (worse than stock in a majority of the repeats) on any of:
DECISION_GUARDS = (("amota", +1), ("mota_common", +1), ("fp_per_frame_at_matched_recall", -1))
TRACKER_DECISION_RULE = (
    "Stock is the temporal scenario's original fine-tune with TAO's own IDs (the tracker section's `stock` arm). A "
    "setting (a tracker arm; a temporal or temporal_align fine-tune with TAO's IDs or with ID continuity) is advised "
    "only if, in every repeat, its HOTA and IDF1 are above stock's, its ID switches at the common operating point "
    "(ids_common: " + COMMON_POINT + ") are below stock's, and its false-positive track-frames per frame (all "
    "false-positive tracks, duplicates included: fp_tracks_all_per_frame) are at most a third of stock's; and it "
    "loses (worse than stock in a majority of the repeats) on none of AMOTA, MOTA at the common point and false "
    "positives per frame at matched recall. A comparison whose stock value is degenerate (NaN, or 0 on AMOTA, which "
    "the devkit clips at 0) reads 'cannot tell': it never counts as a win, nor as a loss, and is reported beside the "
    "verdict, never as 'not worse'. A repeat where either run fails the tracking validity rule or the floor rule is "
    "inconclusive; a setting with an inconclusive repeat and no failed condition is 'inconclusive', not advised. "
    "Among advised settings the defaults follow the one with the highest median HOTA over the repeats; if no setting "
    "with ID continuity is advised, ID continuity goes off by default (id_continuity_gate 0); background_supervision "
    "stays corrected unless only unmatched_only settings are advised."
)
