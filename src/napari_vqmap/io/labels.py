"""Per-frame behaviour labels (csv) to score motifs against."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from napari_vqmap.validators import PoseFileError


def read_label_table(path: str | Path) -> pd.DataFrame:
    """Per-frame labels as a table with a ``label`` column (str), plus ``individual`` when
    the csv has one. Accepted: a SUBTLE annotation csv (header ``,0``, time index) or a
    plain csv with one label column and optional ``frame`` and ``individual`` columns."""
    path = Path(path)
    try:
        df = pd.read_csv(path, keep_default_na=False, dtype=str)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise PoseFileError(path, f"not a readable labels csv: {e}") from e
    if df.shape[1] == 2 and df.columns[0].startswith("Unnamed"):
        return pd.DataFrame({"label": df.iloc[:, 1].to_numpy(str)})
    rest = [c for c in df.columns if c not in ("frame", "individual")]
    if len(rest) != 1:
        raise PoseFileError(
            path,
            f"expected one label column (and optionally 'frame', 'individual'), got {list(df)}",
        )
    out = df.rename(columns={rest[0]: "label"})
    if "frame" in out:
        try:
            out["frame"] = out["frame"].astype(np.int64)
        except ValueError as err:
            raise PoseFileError(path, f"'frame' column is not integer: {err}") from err
        out = out.sort_values([c for c in ("individual", "frame") if c in out], kind="stable")
    return out.drop(columns=[c for c in ("frame",) if c in out]).reset_index(drop=True)


def read_labels(path: str | Path) -> np.ndarray:
    """Per-frame labels (str) of a labels csv (see :func:`read_label_table`)."""
    return read_label_table(path)["label"].to_numpy(str)
