"""Readers and writers, one module per format family. Every reader returns a :class:`~mrml.spectrum.Spectrum`."""
