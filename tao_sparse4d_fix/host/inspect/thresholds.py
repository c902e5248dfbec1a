"""Every number the metrics and the verdict use, in one place (change them here).

Calibrated on this project's CPU evidence run (``python3 bench/inspect_calibration.py``,
docs/evidence/inspect_calibration.md): 48 results files in TAO's tracking mode (what
``sparse4d inference`` writes: boxes with a class score of at least 0.2), 128
anchors, ``num_output`` 128, 4.7 GT boxes per frame, 3 repeats. 15 stock runs (from
scratch, and fine-tuned from a working model after 25-200 steps); 33 fixed runs
(``corrected``, ``unmatched_only``, the rescue, their checkpoints along the way).
Per signal, how often it fired on stock / fixed runs:

* at_cap: 14 / 0; near_cap (when at_cap is quiet): 1 / 0 -> both strong;
* many_per_gt: 15 / 0 (stock 26-27x the GT boxes, fixed at most 7.4x) -> strong;
* flat_scores: 3 / 6. A fixed model with a few low-confidence detections bunches
  them just above the file's 0.2 cut, and a fine-tuned stock model's scores are not
  flat (spread 0.17-0.30) -> weak: it never decides alone;
* id_churn: 15 / 31. These short CPU trainings give almost every detection a fresh
  ID, fixed or not -> reported, never votes.

With these, the 48 files read: stock 15 affected; fixed 25 not_affected, 8 unclear
(flat scores alone, or no detection at all), 0 affected. In detection mode (every
box at 0.05, from the dataset's own format_results), 7 fixed checkpoints early in a
fine-tune or the rescue read affected: they were still inflated (the rescue 25 steps
after the stock fine-tune: 128 detections per frame). Limits: one synthetic set-up, short trainings, a small head; a model
trained to convergence, another num_output or real scenes may need other numbers,
so read a verdict together with the numbers it names.
"""

# --- metric definitions -----------------------------------------------------

# Half-width of the band around a frame's median score: a detection within
# +/- this of its frame's median counts as "near the median".
NEAR_MEDIAN_BAND = 0.05

# Centre distance in the ground plane (x, y) under which a detection matches a
# GT box (nuScenes' center_distance at 2 m, the distance TAO's own detection
# config uses as dist_th_tp; nuScenes matches when the distance is below it).
MATCH_DISTANCE_M = 2.0

# Decoder output cap when neither -e SPEC nor --num-output gives one: the
# schema default of model.head.num_output (nvidia_tao_core 6.25.x
# config/sparse4d/model.py, Sparse4DHeadConfig.num_output).
DEFAULT_NUM_OUTPUT = 300

# --- verdict ----------------------------------------------------------------

# Fewer frames than this: "unclear", whatever the signals say.
MIN_FRAMES = 10

# Signal "at_cap" (strong): at least this share of frames hold num_output
# detections (the decoder kept every query it could). Stock: 30-100% of frames
# (100% from scratch and after 100-200 fine-tune steps); fixed: at most 7%.
AT_CAP_SHARE = 0.5

# Signal "near_cap" (strong; looked at only when at_cap is quiet): the mean
# detections per frame reach this fraction of num_output. Stock: 123.5-128 of 128
# (0.96-1.0); fixed: at most 34.8 of 128 (0.27) in the files TAO writes.
NEAR_CAP_FRACTION = 0.6

# Signal "flat_scores" (weak): the mean within-frame spread (max - min of
# detection_score, frames with 2+ detections) is at most FLAT_SPREAD_MAX and at
# least FLAT_NEAR_MEDIAN_SHARE of those frames' detections lie within
# NEAR_MEDIAN_BAND of their frame's median. Stock from scratch: spread 0.01,
# all near the median; but fixed models with a few detections near the 0.2 cut
# fire too (spread 0.011-0.045), and stock fine-tuned models do not (0.17-0.30).
FLAT_SPREAD_MAX = 0.05
FLAT_NEAR_MEDIAN_SHARE = 0.8

# Signal "many_per_gt" (strong; with --gt): the mean detections per frame reach
# this multiple of the mean GT boxes per frame (far more than the scenes hold).
# Stock from scratch 128/4.7 = 27x, stock fine-tuned 91/4.7 = 19x; corrected
# 30-48/4.7 = 6-10x (above 0.05).
DETS_PER_GT_MAX = 15.0

# With --gt, at most this many detections per GT box means the scenes really
# hold about as many objects as detected: then a signal that fired is
# contradicted and the verdict is "unclear" (e.g. a crowded scene filling a
# small num_output). Between this and DETS_PER_GT_MAX the GT neither confirms
# nor contradicts.
DETS_PER_GT_PLAUSIBLE = 3.0

# Signal "id_churn" (reported only; with tracking ids): new track IDs per frame (first
# frame of each scene left out) reach this share of the detections in those
# frames. TAO's instance bank keeps IDs only for its num_temp_instances
# temporal queries; every other query above the threshold gets a fresh ID each
# frame, so a stock model at the cap churns (num_anchor - num_temp_instances) /
# num_anchor of its detections: 0.5 in this project's runs, 1/3 at TAO's
# defaults (900 anchors, 600 temporal). Measured: fixed runs churn as much
# (90-100% new per frame at this training length), so it does not vote.
NEW_ID_SHARE_MAX = 0.25

# Which signals decide alone; a weak one needs a second signal; reported ones never vote.
STRONG_SIGNALS = ("at_cap", "near_cap", "many_per_gt")
REPORTED_ONLY = ("id_churn",)
