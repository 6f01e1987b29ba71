"""The one place that applies the asset graph's documentation policies to every asset of every stage.

Each stage describes its own assets (description = what one row is, group = layer); here every
asset also gets, where its stage did not set them, the owning team, its layer as a tag and its
storage kind, and a code reference to the function that computes it (the UI links to the source).
"""

import warnings
from collections.abc import Sequence

import dagster as dg

from pmm_pipeline.orchestration.table_assets import OWNER


def _with_defaults(spec: dg.AssetSpec) -> dg.AssetSpec:
    return spec.replace_attributes(
        owners=spec.owners or [OWNER],
        tags={"layer": spec.group_name or "default", **spec.tags},
        kinds=spec.kinds or {"duckdb"},
    )


def apply_asset_policies(assets: Sequence) -> list:
    """Owners, layer tag, kind and code references on every asset (asset checks pass through)."""
    documented = [
        a.map_asset_specs(_with_defaults)
        if isinstance(a, dg.AssetsDefinition) and not isinstance(a, dg.AssetChecksDefinition)
        else a
        for a in assets
    ]
    with warnings.catch_warnings():
        # Code references are "beta" in Dagster 1.13; the warning would greet every code location load.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return list(dg.with_source_code_references(documented))
