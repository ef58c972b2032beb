"""What the motifs say: statistics of motif tables (:mod:`.stats`, re-exported here),
scores against labels (:mod:`.metrics`), figures (:mod:`.figures`), motif videos
(:mod:`.motif_video`) and the ``napari-vqmap analyze`` report (:mod:`.report`)."""

from napari_vqmap.analysis.stats import (
    LEVELS,
    MIN_GROUP_FILES,
    apply_names,
    benjamini_hochberg,
    bouts,
    compare_groups,
    motif_stats,
    transition_counts,
    transition_matrix,
    type_usage,
    usage_table,
)

__all__ = [
    "LEVELS",
    "MIN_GROUP_FILES",
    "apply_names",
    "benjamini_hochberg",
    "bouts",
    "compare_groups",
    "motif_stats",
    "transition_counts",
    "transition_matrix",
    "type_usage",
    "usage_table",
]
