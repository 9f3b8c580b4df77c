"""Target-controlled infusion: plasma- and effect-site targeting over a pump model."""
