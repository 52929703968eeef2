"""Manim scenes of the lesson: one per chapter, plus shared visual parts."""
