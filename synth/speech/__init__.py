"""Noisy-speech synthesis: clean speech mixed with noise at an exactly measured SNR.

Plain numpy/soundfile code, no Prefect. Modules: ``audio_io`` (load and encode), ``corpus``
(clean speech layouts), ``noise`` (procedural noise and user noise folders), ``level``
(signal levels and SNR), ``reverb`` (synthetic room impulse responses), ``params`` (a mix's
drawn values and their JSON), ``mix`` (sample and render one mix), ``spec`` (the strict config),
``pools`` (inputs decoded once per process), ``preview`` (the card's pictures), ``manifests``
(NeMo manifest and Kaldi data directory), ``generator`` (the engine's ``speech`` kind).
"""
