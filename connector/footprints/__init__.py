"""PACT footprint data layer: v2.3 / v3.0 models, GxD extension, schema checks,
v2 <-> v3 mapping, the Catena-X CX-0136 view and sample data. Pure, no I/O
beyond reading the package's own schema files."""

from connector.footprints.catenax import to_catenax, validate_catenax
from connector.footprints.gxd import is_gxd_extension, make_gxd_extension, validate_gxd_data
from connector.footprints.mapping import MappingError, to_v2, to_v3
from connector.footprints.pact_v2 import ProductFootprintV2
from connector.footprints.pact_v3 import ProductFootprintV3
from connector.footprints.samples import make_footprints
from connector.footprints.validation import (
    FootprintCheck,
    FootprintError,
    ProductFootprint,
    detect_version,
    parse_footprint,
    serialise_footprint,
    validate_footprint,
)

__all__ = [
    "FootprintCheck",
    "FootprintError",
    "MappingError",
    "ProductFootprint",
    "ProductFootprintV2",
    "ProductFootprintV3",
    "detect_version",
    "is_gxd_extension",
    "make_footprints",
    "make_gxd_extension",
    "parse_footprint",
    "serialise_footprint",
    "to_catenax",
    "to_v2",
    "to_v3",
    "validate_catenax",
    "validate_footprint",
    "validate_gxd_data",
]
