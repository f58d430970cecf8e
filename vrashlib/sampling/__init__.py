"""Melodies out of a trained model: sampling, MIDI and audio (notebook 03)."""
