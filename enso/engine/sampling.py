"""Moved to ``enso.sampling`` (layer 3: samplers and resamplers need nothing of the engine).

A re-export for one phase, while other modules still import the old path; removed once
nothing does.
"""

from enso.sampling import RESAMPLERS, SAMPLERS, ImpossibleSample, Resampler, Sampler, check_size

__all__ = ["RESAMPLERS", "SAMPLERS", "ImpossibleSample", "Resampler", "Sampler", "check_size"]
